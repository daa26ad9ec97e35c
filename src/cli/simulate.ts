import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { FpmkitInvalidOptionError, isFpmkitError } from '../errors.js';
import { readRegularFile } from '../host/safe-read.js';
import { parseFpmAccessLog } from '../logs/fpm-access-log.js';
import { parseNginxAccessLog } from '../logs/nginx-access-log.js';
import type { Plan } from '../sizing/plan.js';
import { type SimulationResult, simulatePool } from '../sizing/simulate.js';
import { simulationSeriesCsv } from '../sizing/simulate-results.js';
import { renderSimulationSvg } from '../sizing/simulate-svg.js';
import {
  type SimulationTraffic,
  trafficFromFpmAccessLog,
  trafficFromNginxAccessLog,
} from '../sizing/simulate-traffic.js';
import { type ParsedArgs, parseArgs, UsageError } from './args.js';
import { type CliIo, EXIT, jsonDocument, jsonError, prose, styleFor } from './io.js';
import { type PlanDeps, runPlan } from './plan.js';

export const SIMULATE_HELP = `Usage: fpmkit simulate [plan options] [options]

Plans a pool as \`fpmkit plan\` does (same options: --rps, --service-time, --pm,
--memory, --cpus, --somaxconn, --listen, ...), then simulates FPM's process
manager under that traffic, event by event: the accept queue, the maintenance
tick, spawning, idle kills, max_requests, reloads, nginx's timeouts. Prints the
queue waits and the 502s and 504s, and writes the time series.

Traffic (default: Poisson at the plan's rate for --duration):
  --duration S          simulated seconds of Poisson traffic (default 60)
  --burst N             add N requests at once at --burst-at (default 1 s)
  --burst-at S          when the burst comes, seconds
  --reload-at S         send SIGUSR2 at S seconds (repeatable: comma-separated)
  --replay FILE         replay an nginx access log instead of Poisson traffic
  --replay-fpm FILE     replay an FPM access log instead
  --log-format FORMAT   the log's log_format / access.format (default: combined
                        for nginx, FPM's default for FPM)
  --seed N              seed of the pseudo-random traffic (default 1)

Output:
  --csv FILE            write the time series as CSV
  --svg FILE            write the time series as an SVG chart
  --interval S          time series interval, seconds (default 1)
  --json                print the settings, summary and reloads as JSON
  --help                show this help

Exit status: 0 simulated with no 502 or 504, 1 some requests failed (or no
feasible plan), 2 bad command line, 3 unreadable log or unwritable file.
`;

const OWN_VALUED = [
  'duration',
  'burst',
  'burst-at',
  'reload-at',
  'replay',
  'replay-fpm',
  'log-format',
  'seed',
  'csv',
  'svg',
  'interval',
] as const;

/** Splits argv into this command's options and the ones passed on to `plan`. */
function split(argv: readonly string[]): { own: string[]; plan: string[] } {
  const own: string[] = [];
  const plan: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const name = arg.replace(/^--?/, '').split('=')[0]!;
    if ((OWN_VALUED as readonly string[]).includes(name) && arg.startsWith('--')) {
      own.push(arg);
      if (!arg.includes('=') && i + 1 < argv.length) own.push(argv[++i]!);
    } else if (arg === '--json' || arg === '--help') {
      own.push(arg);
    } else {
      plan.push(arg);
    }
  }
  return { own, plan };
}

function num(args: ParsedArgs, name: string, min: number, max: number): number | undefined {
  const raw = args.options[name];
  if (raw === undefined) return undefined;
  const n = typeof raw === 'string' && /^\s*[\d.eE+-]+\s*$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isFinite(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be a number from ${min} to ${max}`);
  }
  return n;
}

interface PlanJson {
  ok: boolean;
  plan?: Plan;
  inputs?: { arrivalRate: number; serviceTimeSeconds: number; serviceTimeCv?: number };
  error?: { code: string; message: string };
}

/** `fpmkit simulate`: returns the exit code. */
export async function runSimulate(
  argv: readonly string[],
  io: CliIo,
  deps: PlanDeps = {},
): Promise<number> {
  const { own, plan: planArgv } = split(argv);
  const args = parseArgs(own, { flags: ['json', 'help'], valued: [...OWN_VALUED] });
  if (args.options.help) {
    io.stdout(SIMULATE_HELP);
    return EXIT.ok;
  }
  const planned = await planOf(planArgv, io, deps, args.options.json === true);
  if (typeof planned === 'number') return planned;
  const { plan, inputs } = planned;
  const traffic = await trafficOf(args, inputs.arrivalRate, io);
  if (typeof traffic === 'number') return traffic;
  const seed = num(args, 'seed', 0, 0xffffffff);
  const reloads =
    typeof args.options['reload-at'] === 'string'
      ? args.options['reload-at'].split(',').map((v) => {
          const n = Number(v);
          if (!Number.isFinite(n) || n < 0) throw new UsageError('--reload-at must list seconds');
          return n;
        })
      : [];
  let result: SimulationResult;
  try {
    result = simulatePool(plan.pool, traffic, {
      serviceTimeSeconds: inputs.serviceTimeSeconds,
      ...(inputs.serviceTimeCv === undefined ? {} : { serviceTimeCv: inputs.serviceTimeCv }),
      ...(plan.kernel.somaxconn === undefined ? {} : { somaxconn: plan.kernel.somaxconn }),
      processControlTimeoutSeconds: plan.global.processControlTimeoutSeconds ?? 0,
      ...(plan.nginx.readTimeoutSeconds === undefined
        ? {}
        : { readTimeoutSeconds: plan.nginx.readTimeoutSeconds }),
      ...(plan.nginx.connectTimeoutSeconds === undefined
        ? {}
        : { connectTimeoutSeconds: plan.nginx.connectTimeoutSeconds }),
      reloadsAtSeconds: reloads,
      ...(seed === undefined ? {} : { seed }),
      ...(args.options.interval === undefined
        ? {}
        : { sampleIntervalSeconds: num(args, 'interval', 0.001, 86_400)! }),
    });
  } catch (error) {
    if (error instanceof FpmkitInvalidOptionError) throw new UsageError(error.message);
    throw error;
  }
  const wrote = await writeOutputs(args, result, io);
  if (wrote !== EXIT.ok) return wrote;
  io.stdout(args.options.json ? jsonOf(result) : textOf(result, io));
  const failed = result.summary.status502 + result.summary.status504;
  return failed > 0 ? EXIT.problems : EXIT.ok;
}

/** Runs `fpmkit plan --json` with the plan options; a number is the exit code of a failure. */
async function planOf(
  planArgv: readonly string[],
  io: CliIo,
  deps: PlanDeps,
  json: boolean,
): Promise<number | { plan: Plan; inputs: NonNullable<PlanJson['inputs']> }> {
  let out = '';
  const code = await runPlan(
    [...planArgv, '--json'],
    {
      ...io,
      stdout: (t) => {
        out += t;
      },
    },
    deps,
  );
  const parsed = JSON.parse(out || '{}') as PlanJson;
  if (code !== EXIT.ok || !parsed.ok || !parsed.plan || !parsed.inputs) {
    const message = `no plan to simulate: ${parsed.error?.message ?? `exit ${code}`}`;
    if (json)
      io.stdout(
        jsonError('simulate', { code: 'FPMKIT_SIZING_INFEASIBLE', ...parsed.error, message }),
      );
    else io.stderr(prose(io, `fpmkit simulate: ${message}\n`, 2));
    return code === EXIT.ok ? EXIT.problems : code;
  }
  return { plan: parsed.plan, inputs: parsed.inputs };
}

async function trafficOf(
  args: ParsedArgs,
  rate: number,
  io: CliIo,
): Promise<number | SimulationTraffic[]> {
  const format =
    typeof args.options['log-format'] === 'string' ? args.options['log-format'] : undefined;
  for (const kind of ['replay', 'replay-fpm'] as const) {
    const file = args.options[kind];
    if (typeof file !== 'string') continue;
    let text: string;
    try {
      text = await readRegularFile(file, { maxBytes: 1024 * 1024 * 1024 });
    } catch (error) {
      io.stderr(
        prose(io, `fpmkit simulate: cannot read ${file}: ${(error as Error).message}\n`, 2),
      );
      return EXIT.input;
    }
    const opts = format === undefined ? { source: file } : { source: file, format };
    try {
      return [
        kind === 'replay'
          ? trafficFromNginxAccessLog(parseNginxAccessLog(text, opts))
          : trafficFromFpmAccessLog(parseFpmAccessLog(text, opts)),
      ];
    } catch (error) {
      if (isFpmkitError(error)) {
        io.stderr(prose(io, `fpmkit simulate: ${file}: ${error.message}\n`, 2));
        return EXIT.input;
      }
      throw error;
    }
  }
  const duration = num(args, 'duration', 0, 31 * 86_400) ?? 60;
  const traffic: SimulationTraffic[] = [
    { kind: 'poisson', ratePerSecond: rate, durationSeconds: duration },
  ];
  const burst = num(args, 'burst', 0, 10_000_000);
  if (burst !== undefined) {
    if (!Number.isInteger(burst)) throw new UsageError('--burst must be a whole number');
    traffic.push({
      kind: 'burst',
      requests: burst,
      atSeconds: num(args, 'burst-at', 0, 31 * 86_400) ?? 1,
    });
  }
  return traffic;
}

async function writeOutputs(
  args: ParsedArgs,
  result: SimulationResult,
  io: CliIo,
): Promise<number> {
  const files: [string | true | undefined, () => string][] = [
    [args.options.csv, () => simulationSeriesCsv(result.series)],
    [args.options.svg, () => renderSimulationSvg(result.series, { title: titleOf(result) })],
  ];
  for (const [file, content] of files) {
    if (typeof file !== 'string') continue;
    try {
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, content());
    } catch (error) {
      io.stderr(
        prose(io, `fpmkit simulate: cannot write ${file}: ${(error as Error).message}\n`, 2),
      );
      return EXIT.input;
    }
  }
  return EXIT.ok;
}

function titleOf(r: SimulationResult): string {
  const s = r.settings;
  return `fpmkit simulate: pm = ${s.mode}, max_children ${s.maxChildren}, queue ${s.queueCapacity}`;
}

const ms = (s: number) => (Number.isNaN(s) ? '-' : `${(s * 1000).toFixed(1)} ms`);

function jsonOf(r: SimulationResult): string {
  const { reloads, ...summary } = r.summary;
  const ok = summary.status502 + summary.status504 === 0;
  return jsonDocument('simulate', ok, { seed: r.seed, settings: r.settings, summary, reloads });
}

function textOf(r: SimulationResult, io: CliIo): string {
  const style = styleFor(io);
  const s = r.summary;
  const st = r.settings;
  const lines = [
    style.bold(titleOf(r)),
    `pm: ${st.mode}${st.mode === 'dynamic' ? ` (start ${st.startServers}, spare ${st.minSpareServers}-${st.maxSpareServers}, spawn rate up to ${st.maxSpawnRate})` : ''}${st.mode === 'ondemand' ? ` (idle timeout ${st.processIdleTimeoutSeconds} s)` : ''}, max_requests ${st.maxRequests}, ${st.listen} socket`,
    `requests: ${s.requests} in ${s.simulatedSeconds.toFixed(1)} s; ${s.completed} answered 200`,
    `queue wait: mean ${ms(s.meanWaitSeconds)}${Number.isNaN(s.meanWaitCi95Seconds) ? '' : ` ± ${ms(s.meanWaitCi95Seconds)}`}, p50 ${ms(s.p50WaitSeconds)}, p99 ${ms(s.p99WaitSeconds)}, max ${ms(s.maxWaitSeconds)}; deepest queue ${s.peakQueueDepth} of ${st.queueCapacity}`,
    (s.status502 + s.status504 > 0 ? style.red : style.green)(
      `502: ${s.status502} (${s.refused} refused, queue full; ${s.killed} killed by reloads), 504: ${s.status504}, unfinished: ${s.unfinished}`,
    ),
    `process manager: ${s.pm.forks} forks, peak ${s.pm.peakChildren} children, ${s.pm.idleKills} idle kills, ${s.pm.recycles} recycled by max_requests, max_children reached ${s.pm.maxChildrenReached} times`,
  ];
  for (const rl of s.reloads) {
    lines.push(
      `reload at ${rl.atSeconds.toFixed(2)} s: nothing accepted for ${rl.noAcceptSeconds.toFixed(3)} s, ${rl.refused} refused, ${rl.killed} killed`,
    );
  }
  return `${prose(io, lines.join('\n'), 2)}\n`;
}
