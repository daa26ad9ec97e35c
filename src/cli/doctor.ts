import type { HostSnapshot, Report } from '../doctor/diagnose.js';
import { diagnose } from '../doctor/diagnose.js';
import { isFpmkitError } from '../errors.js';
import type { Finding } from '../findings.js';
import {
  type CollectSnapshotOptions,
  collectSnapshot,
  type SnapshotFromDirectoryOptions,
  snapshotFromDirectory,
} from '../host/snapshot.js';
import { intOption, parseArgs, UsageError } from './args.js';
import {
  type CliIo,
  EXIT,
  jsonDocument,
  jsonError,
  outputWidth,
  prose,
  type Style,
  styleFor,
  wrapText,
} from './io.js';

export const DOCTOR_HELP = `Usage: fpmkit doctor [options]

Examines the PHP-FPM masters running here (or one configuration, or a directory
of saved evidence) and says what is wrong, with the evidence and a fix: a pool
saturated now, a configuration no master runs, a backlog a reload did not
apply, accept queue overflows, refusals during reloads, requests killed on
reload, max children reached, memory overcommit, slow requests, socket errors,
status page mistakes, ondemand cold starts, and the cross-layer configuration
checks against the nginx and Apache servers it finds running here (their
configuration read with nginx -T or from their files, their workers' real
account), each finding citing the FPM and the web server file and line. Fixes
name the file and line, and say reload or restart.

Options:
  --from DIR              read saved evidence instead of this host (docs/doctor.md)
  --config FILE           examine this FPM configuration (its master, if running)
  --nginx-error-log FILE  nginx's error log (EAGAIN, EACCES, ENOENT ... come from it)
  --fpm-error-log FILE    FPM's error log, instead of the config's error_log
  --prefix DIR            FPM's prefix, for relative log paths
  --proc-root DIR         where procfs is mounted (default /proc)
  --sys-root DIR          where sysfs is mounted (default /sys)
  --since TIME            only log lines at or after TIME (ISO 8601); each log
                          is read from TIME on, found from the end of the file
  --utc-offset MINUTES    minutes east of UTC of the logs' times (default:
                          this machine's; 0 or the manifest's for --from)
  --max-log-bytes N       bytes read from the end of each log (default 4194304,
                          268435456 with --since)
  --queue-samples N       read the socket queues N more times, 100 ms apart, for the peak
  --no-status             do not fetch status pages
  --json                  print the report as JSON
  --help                  show this help

Exit status: 0 nothing wrong (warnings allowed), 1 at least one error finding,
2 bad command line, 3 no FPM master found and nothing else to examine, or the
evidence could not be read.
`;

/** What the doctor command reads through; tests replace it. */
export interface DoctorDeps {
  collect(options: CollectSnapshotOptions): Promise<HostSnapshot>;
  fromDirectory(dir: string, options: SnapshotFromDirectoryOptions): Promise<HostSnapshot>;
}

const realDeps: DoctorDeps = { collect: collectSnapshot, fromDirectory: snapshotFromDirectory };

function label(f: Finding, style: Style): string {
  return f.severity === 'error'
    ? style.red('error  ')
    : f.severity === 'warning'
      ? style.yellow('warning')
      : style.dim('info   ');
}

function formatValue(v: unknown): string {
  if (Array.isArray(v)) {
    if (v.length === 0) return '(none)';
    return v
      .map((x) => (typeof x === 'object' && x !== null ? JSON.stringify(x) : String(x)))
      .join(', ');
  }
  if (typeof v === 'object' && v !== null) return JSON.stringify(v);
  return String(v);
}

/** The report for people: findings with evidence and fix, the files a fix writes, what was not read. */
export function formatReport(
  report: Report,
  style: Style,
  width = Number.POSITIVE_INFINITY,
): string {
  const out: string[] = [];
  const wrapAt = (text: string, hang: number) => wrapText(text, width, hang);
  for (const f of report.findings) {
    const where = f.pool ? style.dim(` [pool ${f.pool}]`) : '';
    out.push(wrapAt(`${label(f, style)} ${style.bold(f.code)}${where} ${f.message}`, 8));
    for (const [k, v] of Object.entries(f.evidence ?? {})) {
      if (v === undefined) continue;
      out.push(wrapAt(`          ${style.dim(`${k}:`)} ${formatValue(v)}`, 12));
    }
    if (f.fix) out.push(wrapAt(`          ${style.green('fix:')} ${f.fix}`, 15));
  }
  for (const [name, text] of Object.entries(report.files)) {
    out.push('', style.bold(`--- ${name} (with the fix applied) ---`), text.trimEnd());
  }
  if (report.missing.length > 0) {
    // One line per reason: the same reason often applies to every pool.
    const byReason = new Map<string, string[]>();
    for (const m of report.missing)
      byReason.set(m.reason, [...(byReason.get(m.reason) ?? []), m.part]);
    out.push('', style.dim('Not examined:'));
    for (const [reason, parts] of byReason)
      out.push(style.dim(wrapAt(`  ${parts.join(', ')}: ${reason}`, 4)));
  }
  const summary = wrapAt(report.summary.text, 0);
  out.push('', report.noFpm ? style.yellow(summary) : summary);
  return `${out.join('\n')}\n`;
}

function str(args: ReturnType<typeof parseArgs>, name: string): string | undefined {
  const v = args.options[name];
  return typeof v === 'string' ? v : undefined;
}

/** `fpmkit doctor`: returns the exit code. */
export async function runDoctor(
  argv: readonly string[],
  io: CliIo,
  deps: DoctorDeps = realDeps,
): Promise<number> {
  const args = parseArgs(argv, {
    flags: ['json', 'help', 'no-status'],
    valued: [
      'from',
      'config',
      'nginx-error-log',
      'fpm-error-log',
      'prefix',
      'proc-root',
      'sys-root',
      'since',
      'utc-offset',
      'max-log-bytes',
      'queue-samples',
    ],
  });
  if (args.options.help) {
    io.stdout(DOCTOR_HELP);
    return EXIT.ok;
  }
  if (args.positionals.length > 0)
    throw new UsageError(`unexpected argument ${args.positionals[0]}`);
  const from = str(args, 'from');
  if (from !== undefined) {
    for (const live of ['config', 'proc-root', 'sys-root', 'queue-samples', 'no-status'])
      if (args.options[live] !== undefined)
        throw new UsageError(`--from reads saved evidence; --${live} applies to a live host`);
  }
  const sinceText = str(args, 'since');
  const since = sinceText === undefined ? undefined : new Date(sinceText);
  if (since !== undefined && Number.isNaN(since.getTime()))
    throw new UsageError('--since must be a time such as 2026-11-21T00:00:00Z');
  const utcOffsetMinutes = intOption(args, 'utc-offset');
  const maxLogBytes = intOption(args, 'max-log-bytes');
  const queueSamples = intOption(args, 'queue-samples');
  if (maxLogBytes !== undefined && maxLogBytes < 0)
    throw new UsageError('--max-log-bytes must be >= 0');
  if (queueSamples !== undefined && queueSamples < 0)
    throw new UsageError('--queue-samples must be >= 0');
  const common = {
    ...(since === undefined ? {} : { since }),
    ...(utcOffsetMinutes === undefined ? {} : { utcOffsetMinutes }),
    ...(maxLogBytes === undefined ? {} : { maxLogBytes }),
    env: io.env,
  };
  let snapshot: HostSnapshot;
  try {
    if (from !== undefined) {
      const nginx = str(args, 'nginx-error-log');
      const fpm = str(args, 'fpm-error-log');
      const prefix = str(args, 'prefix');
      snapshot = await deps.fromDirectory(from, {
        ...common,
        ...(nginx === undefined ? {} : { nginxErrorLog: nginx }),
        ...(fpm === undefined ? {} : { fpmErrorLog: fpm }),
        ...(prefix === undefined ? {} : { prefix }),
      });
    } else {
      const opt = (name: string, key: keyof CollectSnapshotOptions) => {
        const v = str(args, name);
        return v === undefined ? {} : { [key]: v };
      };
      snapshot = await deps.collect({
        ...common,
        ...opt('config', 'configPath'),
        ...opt('nginx-error-log', 'nginxErrorLogPath'),
        ...opt('fpm-error-log', 'fpmErrorLogPath'),
        ...opt('prefix', 'prefix'),
        ...opt('proc-root', 'procRoot'),
        ...opt('sys-root', 'sysRoot'),
        ...(queueSamples === undefined ? {} : { queueSamples }),
        ...(args.options['no-status'] ? { fetchStatus: false } : {}),
      });
    }
  } catch (error) {
    if (!isFpmkitError(error)) throw error;
    if (args.options.json)
      io.stdout(jsonError('doctor', { code: error.code, message: error.message }));
    else io.stderr(prose(io, `fpmkit doctor: ${error.message}\n`, 2));
    return EXIT.input;
  }
  const report = diagnose(snapshot);
  const exit = report.summary.errors > 0 ? EXIT.problems : report.noFpm ? EXIT.input : EXIT.ok;
  if (args.options.json) io.stdout(jsonDocument('doctor', exit === EXIT.ok, { ...report }));
  else io.stdout(formatReport(report, styleFor(io), outputWidth(io)));
  return exit;
}
