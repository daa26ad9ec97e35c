/**
 * The top-level help, kept apart from the commands so `fpmkit --help` and `fpmkit --version`
 * answer without loading any of them.
 */
export const HELP = `Usage: fpmkit <command> [options]

Commands:
  plan               plan a pool for this host: numbers, reasons, predictions,
                     files
  check FILE         decide as php-fpm -t would, with FPM's messages, plus
                     warnings
  status TARGET      fetch a pool's status page over FastCGI
  watch TARGET       a live view of a pool's status with rates
  doctor             find what is wrong with the FPM here (or in saved evidence)
  exporter           serve every pool's metrics to Prometheus over HTTP
  render MODEL.json  render a php-fpm configuration from a JSON model
  apply              change a running FPM: edit, php-fpm -t, reload or restart,
                     verify, roll back on failure
  simulate           simulate the process manager under a plan's traffic

Options:
  -h, --help         show help (also: fpmkit <command> --help)
  -v, --version      print the version

Every command takes -h/--help and -v/--version. Commands that report take
--json and print one document { ok, command, ... } (docs/cli.md). Output is
wrapped to COLUMNS, else the terminal's width, else 80 columns.
Exit status: 0 ok, 1 problems found, 2 bad command line, 3 unreadable input.
`;
