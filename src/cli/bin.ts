import { main } from './main.js';

/**
 * A reader that went away (`fpmkit plan | head`) is not a failure of the command: further output
 * to that stream is dropped, quietly, and the command runs to its end and exits with its own
 * status (so `fpmkit check bad.conf | head -1` under `set -o pipefail` still fails, an `apply`
 * is not cut between its summary and the change, and the exporter keeps serving when its log
 * reader dies). Other write errors are real and keep their trace.
 */
function dropWhenClosed(stream: NodeJS.WriteStream): { write: (text: string) => void } {
  let closed = false;
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    closed = true;
  });
  return {
    write: (text) => {
      if (!closed && !stream.destroyed) stream.write(text);
    },
  };
}
const stdout = dropWhenClosed(process.stdout);
const stderr = dropWhenClosed(process.stderr);

process.exitCode = await main(process.argv.slice(2), {
  stdout: stdout.write,
  stderr: stderr.write,
  isTTY: process.stdout.isTTY === true,
  env: process.env,
  ...(process.stdout.isTTY === true ? { columns: process.stdout.columns } : {}),
});
