import { availableParallelism } from 'node:os';
import { LINUX_DEFAULT_SOMAXCONN } from '../defaults.js';
import { FpmkitInvalidOptionError, FpmkitIoError } from '../errors.js';
import { readCgroupMemory, readMeminfo } from '../host/memory.js';
import { readSysctl } from '../host/sysctl.js';
import { FpmkitFileExistsError, writeFilesAtomically } from '../host/write-files.js';
import { FpmkitInfeasiblePlanError } from '../sizing/errors.js';
import type { Explanation, Plan } from '../sizing/plan.js';
import { fastcgiBackendOf, type PlanPoolInput, planPool, safePlanPool } from '../sizing/planner.js';
import { type PlanFile, renderPlan } from '../sizing/render-plan.js';
import { parsePhpSize } from '../units.js';
import { type ParsedArgs, parseArgs, UsageError } from './args.js';
import { type CliIo, EXIT, type Style, styleFor } from './io.js';

export const PLAN_HELP = `Usage: fpmkit plan [options]

Plans one PHP-FPM pool for this host: pm.max_children and the spare servers,
listen.backlog and net.core.somaxconn, the timeout corridor, LimitNOFILE, with
one line saying why for every number and the queue wait and 502s it predicts.
Then prints the files (pool, sysctl.d, systemd drop-in, nginx, php.ini), or
writes them with --write. Memory and CPUs are read from this host unless given.

Traffic (without --rps: the most traffic memory and CPUs can serve):
  --rps N               peak arrival rate, requests per second
  --service-time MS     mean time a child spends on one request, milliseconds
                        (default 100, an assumption the output names)
  --cpu-share X         share of that time spent on CPU, 0..1 (default 0.25)
  --longest-request S   longest legitimate request, seconds (default 30)
  --reload-window S     measured no-accept window of a reload, seconds (default:
                        the worst case, the longest request plus a restart)

Host (default: read from /proc and /sys):
  --memory SIZE         memory for this host, e.g. 8G or 512M (default: MemTotal,
                        or the tighter cgroup limit of this command)
  --reserve SIZE        memory kept back for the system (default: max(256M, 10 %))
  --cpus N              CPUs (default: those this process may use)
  --somaxconn N         current net.core.somaxconn (default: read from the kernel)

Pool:
  --name NAME           pool name (default www)
  --listen ADDR         listen address (default /run/php/NAME.sock)
  --pm MODE             static, dynamic or ondemand (default dynamic)
  --worker-memory SIZE  memory of one worker (default: memory_limit 128M + 16M)
  --user NAME           user of the workers and owner of the socket (default www-data)
  --php-version X.Y     PHP version in the file paths (default 8.2)

Output:
  --write DIR           write the files under DIR (paths as under /etc), all or
                        none; never replaces a file unless --force, and refuses
                        symbolic links under DIR
  --force               let --write replace existing files
  --json                print the whole plan, the host facts and the files as JSON
  --help                show this help

Exit status: 0 planned, 1 no feasible plan (the reasons are printed) or a file
exists, 2 bad command line, 3 host data unreadable (the flag to give is named)
or a file cannot be written (a link under DIR, a full disk).
`;

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** Service time assumed when none is given, seconds: a typical dynamic PHP page. */
export const ASSUMED_SERVICE_TIME_SECONDS = 0.1;
/** CPU share assumed when none is given: three quarters of a request waits on I/O. */
export const ASSUMED_CPU_SHARE = 0.25;
/** net.core.somaxconn assumed when it cannot be read: the kernel's default since 5.4. */
export const ASSUMED_SOMAXCONN = LINUX_DEFAULT_SOMAXCONN;
/** Bisection steps for the capacity rate: 2^-50 of the range, far below a request per second. */
const CAPACITY_STEPS = 50;

/** What the command learned about the host, and from where. */
export interface PlanHostFacts {
  /** MemTotal of /proc/meminfo, bytes. */
  memTotalBytes?: number;
  /** MemAvailable of /proc/meminfo, bytes. */
  memAvailableBytes?: number;
  /** Tightest memory limit of this process's cgroups; `'unlimited'` when none. */
  cgroupLimitBytes?: number | 'unlimited';
  /** The cgroup that sets the limit. */
  cgroupPath?: string;
  /** CPUs this process may run on. */
  cpus?: number;
  /** Current net.core.somaxconn. */
  somaxconn?: number;
  /** What could not be read, and the flag that replaces it. */
  problems: { what: string; flag: string; message: string }[];
}

/** Reads the facts `fpmkit plan` starts from; what fails is recorded, never thrown. */
export async function readPlanHostFacts(): Promise<PlanHostFacts> {
  const facts: PlanHostFacts = { problems: [] };
  const why = (e: unknown) => (e instanceof Error ? e.message : String(e));
  try {
    const m = await readMeminfo();
    facts.memTotalBytes = m.totalBytes;
    if (m.availableBytes !== undefined) facts.memAvailableBytes = m.availableBytes;
  } catch (e) {
    facts.problems.push({ what: 'MemTotal (/proc/meminfo)', flag: '--memory', message: why(e) });
  }
  try {
    const cg = await readCgroupMemory(process.pid);
    facts.cgroupLimitBytes = cg?.limitBytes ?? 'unlimited';
    if (cg?.limitPath !== undefined) facts.cgroupPath = cg.limitPath;
  } catch (e) {
    facts.problems.push({ what: 'cgroup memory limit', flag: '--memory', message: why(e) });
  }
  facts.cpus = availableParallelism();
  try {
    const v = (await readSysctl(['net.core.somaxconn']))['net.core.somaxconn'];
    if (v === undefined || !/^\d+$/.test(v.trim())) throw new Error('not readable');
    facts.somaxconn = Number(v.trim());
  } catch (e) {
    facts.problems.push({
      what: 'net.core.somaxconn (/proc/sys/net/core/somaxconn)',
      flag: '--somaxconn',
      message: why(e),
    });
  }
  return facts;
}

export interface PlanDeps {
  /** @default readPlanHostFacts */
  readHost?: () => Promise<PlanHostFacts>;
}

function sizeOption(args: ParsedArgs, name: string): number | undefined {
  const raw = args.options[name];
  if (raw === undefined) return undefined;
  const r = typeof raw === 'string' ? parsePhpSize(raw) : undefined;
  if (!r?.ok || r.value === 'unlimited' || r.value <= 0) {
    throw new UsageError(`--${name} must be a size such as 512M or 8G`);
  }
  return r.value;
}

function numberOption(
  args: ParsedArgs,
  name: string,
  min: number,
  max: number,
  minExclusive = false,
): number | undefined {
  const raw = args.options[name];
  if (raw === undefined) return undefined;
  const n = typeof raw === 'string' && /^\s*[\d.eE+-]+\s*$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isFinite(n) || n < min || n > max || (minExclusive && n === min)) {
    throw new UsageError(
      `--${name} must be a number ${minExclusive ? 'above' : 'from'} ${min}${max === Number.MAX_SAFE_INTEGER ? '' : ` to ${max}`}`,
    );
  }
  return n;
}

function integerOption(args: ParsedArgs, name: string, min: number): number | undefined {
  const n = numberOption(args, name, min, Number.MAX_SAFE_INTEGER);
  if (n !== undefined && !Number.isInteger(n))
    throw new UsageError(`--${name} must be a whole number`);
  return n;
}

const mib = (bytes: number) =>
  bytes >= GiB ? `${(bytes / GiB).toFixed(1)} GiB` : `${Math.round(bytes / MiB)} MiB`;

/** The largest arrival rate a plan exists for, found by bisection (feasibility falls with the rate). */
function capacityRate(base: Omit<PlanPoolInput, 'arrivalRate'>): number | undefined {
  const feasible = (rate: number) => safePlanPool({ ...base, arrivalRate: rate }).success;
  const perChild = 1 / base.serviceTimeSeconds;
  let hi = perChild;
  while (feasible(hi) && hi < 1e9) hi *= 2;
  let lo = 0;
  if (!feasible(hi / 2 ** CAPACITY_STEPS)) return undefined;
  for (let i = 0; i < CAPACITY_STEPS; i++) {
    const mid = (lo + hi) / 2;
    if (feasible(mid)) lo = mid;
    else hi = mid;
  }
  return lo;
}

/** A value as a person reads it: bytes in MiB, shares in %, seconds in ms where small. */
function show(setting: string, value: number | string): string {
  if (typeof value === 'string') return value;
  if (/Bytes$|memory_limit/.test(setting)) return mib(value);
  if (/probabilityOfWait|502Rate|utilization|RefusalProbability/.test(setting)) {
    return value > 0 && value < 1e-6 ? '< 0.0001 %' : `${(value * 100).toPrecision(3)} %`;
  }
  if (/WaitSeconds$/.test(setting)) return `${(value * 1000).toPrecision(3)} ms`;
  if (/Seconds$|timeout|max_execution_time/.test(setting)) return `${value} s`;
  if (!Number.isInteger(value))
    return value > 0 && value < 0.001 ? '< 0.001' : value.toPrecision(4);
  return String(value);
}

function explanationLines(list: readonly Explanation[], style: Style): string {
  return list
    .map(
      (e) =>
        `  ${style.bold(`${e.setting} = ${show(e.setting, e.value)}`)}\n      ${style.dim(`${e.rule}: ${e.text}`)}\n`,
    )
    .join('');
}

interface Outcome {
  mode: 'traffic' | 'capacity';
  input: PlanPoolInput;
  notes: string[];
}

/** `fpmkit plan`: returns the exit code. */
export async function runPlan(
  argv: readonly string[],
  io: CliIo,
  deps: PlanDeps = {},
): Promise<number> {
  const args = parseArgs(argv, {
    flags: ['json', 'help', 'force'],
    valued: [
      'memory',
      'reserve',
      'worker-memory',
      'rps',
      'service-time',
      'cpu-share',
      'longest-request',
      'name',
      'listen',
      'pm',
      'write',
      'cpus',
      'somaxconn',
      'user',
      'php-version',
      'reload-window',
    ],
  });
  if (args.options.help) {
    io.stdout(PLAN_HELP);
    return EXIT.ok;
  }
  if (args.positionals.length > 0)
    throw new UsageError(`unexpected argument ${args.positionals[0]}`);
  const memory = sizeOption(args, 'memory');
  const reserve = sizeOption(args, 'reserve');
  const workerMemory = sizeOption(args, 'worker-memory');
  const rps = numberOption(args, 'rps', 0, 1e9, true);
  const serviceMs = numberOption(args, 'service-time', 0, 3_600_000, true);
  const cpuShare = numberOption(args, 'cpu-share', 0, 1);
  const longest = numberOption(args, 'longest-request', 0, 86_400, true);
  const reloadWindow = numberOption(args, 'reload-window', 0, 86_400);
  const cpus = integerOption(args, 'cpus', 1);
  const somaxconnFlag = integerOption(args, 'somaxconn', 0);
  const pm = args.options.pm;
  if (pm !== undefined && pm !== 'static' && pm !== 'dynamic' && pm !== 'ondemand') {
    throw new UsageError('--pm must be static, dynamic or ondemand');
  }
  const name = typeof args.options.name === 'string' ? args.options.name : 'www';
  if (!/^[A-Za-z0-9_.@+-]+$/.test(name) || name.toLowerCase() === 'global') {
    throw new UsageError("--name must be letters, digits and _ . @ + - only, and not 'global'");
  }
  const user = typeof args.options.user === 'string' ? args.options.user : 'www-data';
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(user))
    throw new UsageError('--user must be a user name');
  const phpVersion = args.options['php-version'];
  if (phpVersion !== undefined && (phpVersion === true || !/^\d+\.\d+$/.test(phpVersion))) {
    throw new UsageError('--php-version must be MAJOR.MINOR, e.g. 8.2');
  }
  const listen = args.options.listen;
  if (typeof listen === 'string') {
    try {
      fastcgiBackendOf(listen);
    } catch {
      throw new UsageError(
        '--listen must be an absolute socket path, PORT, ADDRESS:PORT or [IPV6]:PORT',
      );
    }
  }
  const write = args.options.write;
  if (args.options.force && write === undefined) throw new UsageError('--force goes with --write');

  const facts = await (deps.readHost ?? readPlanHostFacts)();
  const style = styleFor(io);
  const notes: string[] = [];
  // Report what could not be read, unless a flag already replaces it.
  const missing = facts.problems.filter(
    (p) =>
      !(p.flag === '--memory' && memory !== undefined) &&
      !(p.flag === '--somaxconn' && somaxconnFlag !== undefined),
  );
  const fatal = missing.filter((p) => p.flag === '--memory' && facts.memTotalBytes === undefined);
  if (fatal.length > 0) {
    const text = fatal.map((p) => `cannot read ${p.what}: ${p.message}; give ${p.flag}`);
    if (args.options.json) {
      io.stdout(
        `${JSON.stringify({ ok: false, error: { code: 'FPMKIT_IO', message: text.join('; ') } }, null, 2)}\n`,
      );
    } else io.stderr(`fpmkit plan: ${text.join('\n')}\n`);
    return EXIT.input;
  }
  for (const p of missing) {
    notes.push(
      p.flag === '--somaxconn'
        ? `cannot read ${p.what} (${p.message}); assumed ${ASSUMED_SOMAXCONN}, give --somaxconn N to set it`
        : `cannot read ${p.what} (${p.message}); give ${p.flag} if a limit applies`,
    );
  }
  const cores = cpus ?? facts.cpus ?? 1;
  const somaxconn = somaxconnFlag ?? facts.somaxconn ?? ASSUMED_SOMAXCONN;
  const totalMemoryBytes = memory ?? facts.memTotalBytes!;
  const cgroup =
    memory === undefined && typeof facts.cgroupLimitBytes === 'number'
      ? [facts.cgroupLimitBytes]
      : undefined;

  const serviceTimeSeconds =
    serviceMs === undefined ? ASSUMED_SERVICE_TIME_SECONDS : serviceMs / 1000;
  const base: Omit<PlanPoolInput, 'arrivalRate'> = {
    name,
    serviceTimeSeconds,
    cpuShare: cpuShare ?? ASSUMED_CPU_SHARE,
    cores,
    totalMemoryBytes,
    currentSomaxconn: somaxconn,
    user,
    group: user,
    listenOwner: user,
    listenGroup: user,
    ...(cgroup === undefined ? {} : { cgroupLimitsBytes: cgroup }),
    ...(reserve === undefined ? {} : { reserveBytes: reserve }),
    ...(workerMemory === undefined ? {} : { workerBytes: workerMemory }),
    ...(longest === undefined ? {} : { longestRequestSeconds: longest }),
    ...(reloadWindow === undefined ? {} : { reloadWindowSeconds: reloadWindow }),
    ...(pm === undefined ? {} : { mode: pm as 'static' | 'dynamic' | 'ondemand' }),
    ...(typeof listen === 'string' ? { listenAddress: listen } : {}),
  };
  const assumed: string[] = [];
  if (serviceMs === undefined) assumed.push(`${serviceTimeSeconds * 1000} ms per request`);
  if (cpuShare === undefined) assumed.push(`${ASSUMED_CPU_SHARE * 100} % of it on CPU`);

  let outcome: Outcome;
  try {
    outcome = chooseTraffic(base, rps, serviceTimeSeconds, assumed, notes);
  } catch (error) {
    if (error instanceof FpmkitInvalidOptionError) throw new UsageError(error.message);
    throw error;
  }

  let plan: Plan;
  let files: PlanFile[];
  try {
    plan = planPool(outcome.input);
    files = renderPlan(plan, typeof phpVersion === 'string' ? { phpVersion } : {});
  } catch (error) {
    if (error instanceof FpmkitInfeasiblePlanError) {
      if (args.options.json) {
        io.stdout(
          `${JSON.stringify({ ok: false, error: { code: error.code, message: error.message, reasons: error.reasons } }, null, 2)}\n`,
        );
      } else {
        io.stderr(
          `fpmkit plan: ${style.red('no feasible plan')} for [${name}]:\n${error.reasons.map((r) => `  - ${r.message}\n`).join('')}Give more --memory or --cpus, a smaller --worker-memory, or less traffic.\n`,
        );
      }
      return EXIT.problems;
    }
    if (error instanceof FpmkitInvalidOptionError) {
      throw new UsageError(`${error.message}`);
    }
    throw error;
  }
  const planned =
    (plan.pool.pm.maxChildren ?? 0) *
    Number(plan.explanations.find((e) => e.setting === 'sizing.workerBytes')?.value ?? 0);
  if (
    facts.memAvailableBytes !== undefined &&
    memory === undefined &&
    planned > facts.memAvailableBytes
  ) {
    notes.push(
      `the children may take ${mib(planned)} but only ${mib(facts.memAvailableBytes)} is available now (MemAvailable): other processes use the rest`,
    );
  }
  notes.push(...plan.warnings);

  let written: string[] | undefined;
  if (typeof write === 'string') {
    const result = writeFiles(write, files, args.options.force === true);
    if (!result.ok) {
      if (args.options.json) {
        io.stdout(
          `${JSON.stringify({ ok: false, error: { code: result.code, ...(result.errno ? { errno: result.errno } : {}), message: result.message } }, null, 2)}\n`,
        );
      } else io.stderr(`fpmkit plan: ${result.message}\n`);
      return result.exit;
    }
    written = result.paths;
    if (result.note !== undefined) notes.push(result.note);
  }

  const host = {
    memTotalBytes: facts.memTotalBytes ?? null,
    memAvailableBytes: facts.memAvailableBytes ?? null,
    cgroupLimitBytes: facts.cgroupLimitBytes ?? null,
    cpus: cores,
    somaxconn,
    memorySource:
      memory !== undefined
        ? '--memory'
        : cgroup !== undefined && cgroup[0]! < totalMemoryBytes
          ? 'cgroup'
          : 'MemTotal',
  };
  if (args.options.json) {
    io.stdout(
      `${JSON.stringify(
        {
          ok: true,
          mode: outcome.mode,
          host,
          inputs: outcome.input,
          plan,
          files,
          notes,
          ...(written === undefined ? {} : { written }),
        },
        null,
        2,
      )}\n`,
    );
    return EXIT.ok;
  }

  const out: string[] = [];
  out.push(style.bold(`fpmkit plan for pool [${name}]`), '');
  const cgText =
    facts.cgroupLimitBytes === undefined
      ? 'unknown'
      : facts.cgroupLimitBytes === 'unlimited'
        ? 'no limit'
        : mib(facts.cgroupLimitBytes);
  out.push(
    `Host: MemTotal ${facts.memTotalBytes === undefined ? 'unknown' : `${facts.memTotalBytes} bytes (${mib(facts.memTotalBytes)})`}` +
      `${facts.memAvailableBytes === undefined ? '' : `, MemAvailable ${mib(facts.memAvailableBytes)}`}` +
      `, cgroup memory ${cgText}, ${cores} CPU${cores === 1 ? '' : 's'}, net.core.somaxconn ${somaxconn}` +
      `${memory === undefined ? '' : `; planning for --memory ${mib(memory)}`}`,
  );
  out.push(
    outcome.mode === 'traffic'
      ? `Traffic: ${rps} requests/s, ${serviceTimeSeconds * 1000} ms each, ${(base.cpuShare ?? 0) * 100} % on CPU`
      : `Traffic: none given; planned for the capacity, ${outcome.input.arrivalRate.toFixed(1)} requests/s`,
  );
  for (const n of notes) out.push(style.yellow(`note: ${n}`));
  out.push('', style.bold('Settings'));
  const settings = plan.explanations.filter((e) => !e.setting.startsWith('predictions.'));
  out.push(explanationLines(settings, style).trimEnd());
  out.push('', style.bold(`Predictions at ${outcome.input.arrivalRate.toFixed(1)} requests/s`));
  out.push(
    explanationLines(
      plan.explanations.filter((e) => e.setting.startsWith('predictions.')),
      style,
    ).trimEnd(),
  );
  out.push('', style.bold('Files'));
  for (const f of files) {
    out.push(
      '',
      `${style.green(`==> ${f.path} <==`)}  ${style.dim(f.description)}`,
      f.content.trimEnd(),
    );
  }
  if (written !== undefined) {
    out.push('', `Wrote ${written.length} files under ${write}:`, ...written.map((p) => `  ${p}`));
  }
  io.stdout(`${out.join('\n')}\n`);
  return EXIT.ok;
}

type WriteResult =
  | { ok: true; paths: string[]; note?: string }
  | { ok: false; exit: number; code: string; errno?: string; message: string };

/**
 * Writes every file under `dir` as one set through the safe writer, or none when one exists and
 * `force` is off, or when a link or a failure stands in the way.
 */
function writeFiles(dir: string, files: readonly PlanFile[], force: boolean): WriteResult {
  try {
    const result = writeFilesAtomically(
      dir,
      files.map((f) => ({ path: f.path, content: f.content })),
      { force },
    );
    const r = result.recovered;
    return {
      ok: true,
      paths: result.paths,
      ...(r === undefined
        ? {}
        : {
            note: `an earlier write into ${dir} had been interrupted; it was ${r.outcome === 'rolled-forward' ? 'finished' : 'undone'} first (${r.paths.length} files)`,
          }),
    };
  } catch (error) {
    if (error instanceof FpmkitFileExistsError) {
      return {
        ok: false,
        exit: EXIT.problems,
        code: error.code,
        errno: 'EEXIST',
        message: `not replacing existing files (give --force to replace them): ${error.paths.join(', ')}`,
      };
    }
    if (error instanceof FpmkitIoError) {
      return {
        ok: false,
        exit: EXIT.input,
        code: error.code,
        ...(error.errno === undefined ? {} : { errno: error.errno }),
        message: `cannot write under ${dir}: ${error.message}`,
      };
    }
    throw error;
  }
}

/** Traffic mode when --rps is given; else the capacity of memory and CPUs. */
function chooseTraffic(
  base: Omit<PlanPoolInput, 'arrivalRate'>,
  rps: number | undefined,
  serviceTimeSeconds: number,
  assumed: readonly string[],
  notes: string[],
): Outcome {
  if (rps !== undefined) {
    if (assumed.length > 0) {
      notes.push(
        `assumed ${assumed.join(', ')}; give --service-time and --cpu-share to measure instead`,
      );
    }
    return { mode: 'traffic', input: { ...base, arrivalRate: rps }, notes };
  }
  const exact = capacityRate({ ...base, headroom: 0 });
  // Rounded down to a tenth, so the explanations read 51 req/s rather than 50.98162796889554.
  const rate = exact === undefined ? undefined : exact >= 0.2 ? Math.floor(exact * 10) / 10 : exact;
  if (rate !== undefined) {
    notes.push(
      `no traffic given (--rps): planned from memory and CPUs alone, for the most traffic they serve within the queue-wait target: ${rate.toFixed(1)} requests/s at ${serviceTimeSeconds * 1000} ms per request, ${(base.cpuShare ?? 0) * 100} % of it on CPU${assumed.length > 0 ? ' (assumed; give --service-time and --cpu-share)' : ''}`,
    );
  }
  // With no feasible rate at all, plan a trickle so planPool states why.
  return { mode: 'capacity', input: { ...base, headroom: 0, arrivalRate: rate ?? 0.001 }, notes };
}
