import { availableParallelism } from 'node:os';
import { LINUX_DEFAULT_SOMAXCONN } from '../defaults.js';
import { FpmkitInvalidOptionError, FpmkitIoError } from '../errors.js';
import { readCgroupMemory, readMeminfo } from '../host/memory.js';
import { readSysctl } from '../host/sysctl.js';
import { FpmkitFileExistsError, writeFilesAtomically } from '../host/write-files.js';
import { FpmkitInfeasiblePlanError } from '../sizing/errors.js';
import type { Explanation, Plan } from '../sizing/plan.js';
import { fastcgiBackendOf, type PlanPoolInput, planPool, safePlanPool } from '../sizing/planner.js';
import { DEFAULT_CPU_SHARE } from '../sizing/planner-input.js';
import { PLAN_PM_MODES, type PlanPmMode } from '../sizing/pm.js';
import { type PlanFile, renderPlan } from '../sizing/render-plan.js';
import { parsePhpSize } from '../units.js';
import { type ParsedArgs, parseArgs, UsageError } from './args.js';
import { type CliIo, EXIT, jsonDocument, perLine, prose, type Style, styleFor } from './io.js';
import {
  applyActionFor,
  defaultFpmConfigPath,
  describeChanges,
  type ExistingPool,
  poolChanges,
  readExistingPool,
} from './plan-existing.js';

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
  --listen ADDR         listen address (default: the existing pool's, else
                        /run/php/NAME.sock)
  --fpm-config FILE     FPM configuration holding the pool, if it exists (default
                        /etc/php/VERSION/fpm/php-fpm.conf): a pool that exists
                        keeps its listen, and the plan says what it changes
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
/** CPU share assumed when none is given: the planner's own default. */
export const ASSUMED_CPU_SHARE = DEFAULT_CPU_SHARE;
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
  /** @default readExistingPool */
  readExistingPool?: typeof readExistingPool;
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

/** A duration as a person reads it: below a second in ms, else in seconds. */
function showSeconds(value: number): string {
  if (value < 1) return `${(value * 1000).toPrecision(3)} ms`;
  return Number.isInteger(value) ? `${value} s` : `${Number(value.toPrecision(4))} s`;
}

/** A value as a person reads it, by its unit: bytes in MiB, fractions in %, short waits in ms. */
function show(e: Explanation): string {
  const value = e.value;
  if (typeof value === 'string') return value;
  switch (e.unit) {
    case 'bytes':
      return mib(value);
    case 'fraction':
      return value > 0 && value < 1e-6 ? '< 0.0001 %' : `${(value * 100).toPrecision(3)} %`;
    case 'seconds':
      return showSeconds(value);
    case 'count':
      if (Number.isInteger(value)) return String(value);
      return value > 0 && value < 0.001 ? '< 0.001' : value.toPrecision(4);
  }
}

function explanationLines(list: readonly Explanation[], style: Style, io: CliIo): string {
  return list
    .map(
      (e) =>
        `${perLine(prose(io, `  ${e.setting} = ${show(e)}`, 6), style.bold)}\n${perLine(prose(io, `      ${e.rule}: ${e.text}`), style.dim)}\n`,
    )
    .join('');
}

interface Outcome {
  mode: 'traffic' | 'capacity';
  input: PlanPoolInput;
  notes: string[];
}

/** The command line of `fpmkit plan`, checked; sizes in bytes, times as given. */
interface PlanOptions {
  memory: number | undefined;
  reserve: number | undefined;
  workerMemory: number | undefined;
  rps: number | undefined;
  serviceMs: number | undefined;
  cpuShare: number | undefined;
  longest: number | undefined;
  reloadWindow: number | undefined;
  cpus: number | undefined;
  somaxconn: number | undefined;
  pm: PlanPmMode | undefined;
  name: string;
  user: string;
  phpVersion: string | undefined;
  listen: string | undefined;
  fpmConfig: string | undefined;
  write: string | undefined;
  force: boolean;
  json: boolean;
}

const PLAN_VALUED = [
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
  'fpm-config',
];

function textOption(args: ParsedArgs, name: string): string | undefined {
  const v = args.options[name];
  return typeof v === 'string' ? v : undefined;
}

/** The pool's identity options: name, pm, user, PHP version and listen address. */
function poolOptions(args: ParsedArgs) {
  const pmText = args.options.pm;
  const pm = PLAN_PM_MODES.find((m) => m === pmText);
  if (pmText !== undefined && pm === undefined) {
    throw new UsageError('--pm must be static, dynamic or ondemand');
  }
  const name = textOption(args, 'name') ?? 'www';
  if (!/^[A-Za-z0-9_.@+-]+$/.test(name) || name.toLowerCase() === 'global') {
    throw new UsageError("--name must be letters, digits and _ . @ + - only, and not 'global'");
  }
  const user = textOption(args, 'user') ?? 'www-data';
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(user))
    throw new UsageError('--user must be a user name');
  const phpVersion = args.options['php-version'];
  if (phpVersion !== undefined && (phpVersion === true || !/^\d+\.\d+$/.test(phpVersion))) {
    throw new UsageError('--php-version must be MAJOR.MINOR, e.g. 8.2');
  }
  const listen = textOption(args, 'listen');
  if (listen !== undefined) {
    try {
      fastcgiBackendOf(listen);
    } catch {
      throw new UsageError(
        '--listen must be an absolute socket path, PORT, ADDRESS:PORT or [IPV6]:PORT',
      );
    }
  }
  return { pm, name, user, phpVersion, listen };
}

function planOptions(args: ParsedArgs): PlanOptions {
  if (args.positionals.length > 0)
    throw new UsageError(`unexpected argument ${args.positionals[0]}`);
  const numbers = {
    memory: sizeOption(args, 'memory'),
    reserve: sizeOption(args, 'reserve'),
    workerMemory: sizeOption(args, 'worker-memory'),
    rps: numberOption(args, 'rps', 0, 1e9, true),
    serviceMs: numberOption(args, 'service-time', 0, 3_600_000, true),
    cpuShare: numberOption(args, 'cpu-share', 0, 1),
    longest: numberOption(args, 'longest-request', 0, 86_400, true),
    reloadWindow: numberOption(args, 'reload-window', 0, 86_400),
    cpus: integerOption(args, 'cpus', 1),
    somaxconn: integerOption(args, 'somaxconn', 0),
  };
  const pool = poolOptions(args);
  const write = textOption(args, 'write');
  if (args.options.force && write === undefined) throw new UsageError('--force goes with --write');
  return {
    ...numbers,
    ...pool,
    fpmConfig: textOption(args, 'fpm-config'),
    write,
    force: args.options.force === true,
    json: args.options.json === true,
  };
}

/**
 * Notes for what could not be read about the host (unless a flag replaces it), or the texts
 * that stop the command when the memory is unknown.
 */
function hostNotes(
  facts: PlanHostFacts,
  o: PlanOptions,
  notes: string[],
): { fatal: string[] | undefined } {
  const missing = facts.problems.filter(
    (p) =>
      !(p.flag === '--memory' && o.memory !== undefined) &&
      !(p.flag === '--somaxconn' && o.somaxconn !== undefined),
  );
  const fatal = missing.filter((p) => p.flag === '--memory' && facts.memTotalBytes === undefined);
  if (fatal.length > 0) {
    return { fatal: fatal.map((p) => `cannot read ${p.what}: ${p.message}; give ${p.flag}`) };
  }
  for (const p of missing) {
    notes.push(
      p.flag === '--somaxconn'
        ? `cannot read ${p.what} (${p.message}); assumed ${ASSUMED_SOMAXCONN}, give --somaxconn N to set it`
        : `cannot read ${p.what} (${p.message}); give ${p.flag} if a limit applies`,
    );
  }
  return { fatal: undefined };
}

/** What the plan is made from: the options over the host facts, and what was assumed. */
interface PlanBasis {
  base: Omit<PlanPoolInput, 'arrivalRate'>;
  serviceTimeSeconds: number;
  assumed: string[];
  cores: number;
  somaxconn: number;
  totalMemoryBytes: number;
  cgroup: number[] | undefined;
}

function planBasis(o: PlanOptions, facts: PlanHostFacts): PlanBasis {
  const cores = o.cpus ?? facts.cpus ?? 1;
  const somaxconn = o.somaxconn ?? facts.somaxconn ?? ASSUMED_SOMAXCONN;
  const totalMemoryBytes = o.memory ?? facts.memTotalBytes!;
  const cgroup =
    o.memory === undefined && typeof facts.cgroupLimitBytes === 'number'
      ? [facts.cgroupLimitBytes]
      : undefined;
  const serviceTimeSeconds =
    o.serviceMs === undefined ? ASSUMED_SERVICE_TIME_SECONDS : o.serviceMs / 1000;
  const base: Omit<PlanPoolInput, 'arrivalRate'> = {
    name: o.name,
    serviceTimeSeconds,
    cpuShare: o.cpuShare ?? ASSUMED_CPU_SHARE,
    cores,
    totalMemoryBytes,
    currentSomaxconn: somaxconn,
    user: o.user,
    group: o.user,
    listenOwner: o.user,
    listenGroup: o.user,
    ...(cgroup === undefined ? {} : { cgroupLimitsBytes: cgroup }),
    ...(o.reserve === undefined ? {} : { reserveBytes: o.reserve }),
    ...(o.workerMemory === undefined ? {} : { workerBytes: o.workerMemory }),
    ...(o.longest === undefined ? {} : { longestRequestSeconds: o.longest }),
    ...(o.reloadWindow === undefined ? {} : { reloadWindowSeconds: o.reloadWindow }),
    ...(o.pm === undefined ? {} : { mode: o.pm }),
    ...(o.listen === undefined ? {} : { listenAddress: o.listen }),
  };
  const assumed: string[] = [];
  if (o.serviceMs === undefined) assumed.push(`${serviceTimeSeconds * 1000} ms per request`);
  if (o.cpuShare === undefined) assumed.push(`${ASSUMED_CPU_SHARE * 100} % of it on CPU`);
  return { base, serviceTimeSeconds, assumed, cores, somaxconn, totalMemoryBytes, cgroup };
}

const printJson = (io: CliIo, value: { ok: boolean } & Record<string, unknown>) =>
  io.stdout(jsonDocument('plan', value.ok, value));

/** The plan and its files, or the exit code after reporting why there is none. */
function makePlan(
  o: PlanOptions,
  outcome: Outcome,
  io: CliIo,
  style: Style,
): { plan: Plan; files: PlanFile[] } | number {
  try {
    const plan = planPool(outcome.input);
    const files = renderPlan(plan, o.phpVersion === undefined ? {} : { phpVersion: o.phpVersion });
    return { plan, files };
  } catch (error) {
    if (error instanceof FpmkitInfeasiblePlanError) {
      if (o.json) {
        printJson(io, {
          ok: false,
          error: { code: error.code, message: error.message, reasons: error.reasons },
        });
      } else {
        io.stderr(
          prose(
            io,
            `fpmkit plan: ${style.red('no feasible plan')} for [${o.name}]:\n${error.reasons.map((r) => `  - ${r.message}\n`).join('')}Give more --memory or --cpus, a smaller --worker-memory, less traffic, or the share of a request really spent on CPU (--cpu-share; this plan used ${o.cpuShare ?? `${ASSUMED_CPU_SHARE}, assumed`}).\n`,
            4,
          ),
        );
      }
      return EXIT.problems;
    }
    if (error instanceof FpmkitInvalidOptionError) throw new UsageError(`${error.message}`);
    throw error;
  }
}

/** Everything the report shows. */
interface PlanReport {
  o: PlanOptions;
  facts: PlanHostFacts;
  basis: PlanBasis;
  outcome: Outcome;
  plan: Plan;
  files: PlanFile[];
  notes: string[];
  written: string[] | undefined;
}

function jsonReport(r: PlanReport): { ok: boolean } & Record<string, unknown> {
  const { o, facts, basis } = r;
  const host = {
    memTotalBytes: facts.memTotalBytes ?? null,
    memAvailableBytes: facts.memAvailableBytes ?? null,
    cgroupLimitBytes: facts.cgroupLimitBytes ?? null,
    cpus: basis.cores,
    somaxconn: basis.somaxconn,
    memorySource:
      o.memory !== undefined
        ? '--memory'
        : basis.cgroup !== undefined && basis.cgroup[0]! < basis.totalMemoryBytes
          ? 'cgroup'
          : 'MemTotal',
  };
  return {
    ok: true,
    mode: r.outcome.mode,
    host,
    inputs: r.outcome.input,
    plan: r.plan,
    files: r.files,
    notes: r.notes,
    ...(r.written === undefined ? {} : { written: r.written }),
  };
}

function hostLine(r: PlanReport): string {
  const { facts, o, basis } = r;
  const cgText =
    facts.cgroupLimitBytes === undefined
      ? 'unknown'
      : facts.cgroupLimitBytes === 'unlimited'
        ? 'no limit'
        : mib(facts.cgroupLimitBytes);
  const cores = basis.cores;
  return (
    `Host: MemTotal ${facts.memTotalBytes === undefined ? 'unknown' : `${facts.memTotalBytes} bytes (${mib(facts.memTotalBytes)})`}` +
    `${facts.memAvailableBytes === undefined ? '' : `, MemAvailable ${mib(facts.memAvailableBytes)}`}` +
    `, cgroup memory ${cgText}, ${cores} CPU${cores === 1 ? '' : 's'}, net.core.somaxconn ${basis.somaxconn}` +
    `${o.memory === undefined ? '' : `; planning for --memory ${mib(o.memory)}`}`
  );
}

function textReport(r: PlanReport, style: Style, io: CliIo): string {
  const { o, outcome, plan } = r;
  const rate = outcome.input.arrivalRate.toFixed(1);
  const out: string[] = [
    style.bold(`fpmkit plan for pool [${o.name}]`),
    '',
    prose(io, hostLine(r), 2),
  ];
  out.push(
    prose(
      io,
      outcome.mode === 'traffic'
        ? `Traffic: ${o.rps} requests/s, ${r.basis.serviceTimeSeconds * 1000} ms each, ${(r.basis.base.cpuShare ?? 0) * 100} % on CPU`
        : `Traffic: none given; planned for the capacity, ${rate} requests/s`,
      2,
    ),
  );
  for (const n of r.notes) out.push(perLine(prose(io, `note: ${n}`, 6), style.yellow));
  const predictions = plan.explanations.filter((e) => e.setting.startsWith('predictions.'));
  const settings = plan.explanations.filter((e) => !e.setting.startsWith('predictions.'));
  out.push('', style.bold('Settings'), explanationLines(settings, style, io).trimEnd());
  out.push('', style.bold(`Predictions at ${rate} requests/s`));
  out.push(explanationLines(predictions, style, io).trimEnd());
  out.push('', style.bold('Files'));
  for (const f of r.files) {
    out.push(
      '',
      prose(io, `${style.green(`==> ${f.path} <==`)}  ${style.dim(f.description)}`, 4),
      f.content.trimEnd(),
    );
  }
  if (r.written !== undefined) {
    out.push(
      '',
      `Wrote ${r.written.length} files under ${o.write}:`,
      ...r.written.map((p) => `  ${p}`),
    );
  }
  return `${out.join('\n')}\n`;
}

/** The notes the plan itself adds: memory taken beyond what is free now, and its warnings. */
function planNotes(o: PlanOptions, facts: PlanHostFacts, plan: Plan, notes: string[]): void {
  const planned = plan.sizing.plannedBytes;
  if (
    facts.memAvailableBytes !== undefined &&
    o.memory === undefined &&
    planned > facts.memAvailableBytes
  ) {
    notes.push(
      `the children may take ${mib(planned)} but only ${mib(facts.memAvailableBytes)} is available now (MemAvailable): other processes use the rest`,
    );
  }
  notes.push(...plan.warnings);
}

/** The pool as the host's FPM configuration has it, noting a file that cannot be read. */
function existingPool(o: PlanOptions, deps: PlanDeps, notes: string[]): ExistingPool | undefined {
  const path = o.fpmConfig ?? defaultFpmConfigPath(o.phpVersion ?? '8.2');
  const found = (deps.readExistingPool ?? readExistingPool)(path, o.name);
  if (found === undefined) {
    if (o.fpmConfig !== undefined)
      notes.push(`no pool [${o.name}] in ${path}: planned as a new pool`);
    return undefined;
  }
  if ('error' in found) {
    notes.push(`cannot read ${path} (${found.error}): planned as a new pool`);
    return undefined;
  }
  const at = found.listenAt;
  if (o.listen === undefined && found.pool.listen.address)
    notes.push(
      `pool [${o.name}] exists (${at ? `${at.file} line ${at.line}` : path}): kept its listen = ${found.pool.listen.address}, which sites point at; give --listen to move it`,
    );
  return found;
}

/**
 * The pool file's header from the reload table: for a pool that exists, what the plan changes
 * in it and whether a reload or a restart applies that; a new pool's socket comes with a reload.
 */
function headerFromTable(
  o: PlanOptions,
  existing: ExistingPool | undefined,
  made: { plan: Plan; files: PlanFile[] },
  notes: string[],
): void {
  const file = made.files.find((f) => f.kind === 'fpm-pool');
  if (file === undefined) return;
  if (existing === undefined) {
    file.description = `FPM pool [${o.name}] with the [global] setting it needs; new pool: reload FPM to apply`;
    return;
  }
  const changes = poolChanges(existing.pool, made.plan.pool);
  const action = applyActionFor(o.name, changes);
  const where = existing.listenAt?.file ?? existing.configPath;
  notes.push(`changes to the existing pool [${o.name}] (${where}): ${describeChanges(changes)}`);
  const restartFor = changes
    .filter((c) => applyActionFor(o.name, [c]) === 'restart')
    .map((c) => c.directive);
  file.description =
    action === 'restart'
      ? `replaces pool [${o.name}] of ${where}; restart FPM to apply (${restartFor.join(', ')}: a reload keeps the listening socket)`
      : `replaces pool [${o.name}] of ${where}; reload FPM to apply`;
}

/** `fpmkit plan`: returns the exit code. */
export async function runPlan(
  argv: readonly string[],
  io: CliIo,
  deps: PlanDeps = {},
): Promise<number> {
  const args = parseArgs(argv, { flags: ['json', 'help', 'force'], valued: PLAN_VALUED });
  if (args.options.help) {
    io.stdout(PLAN_HELP);
    return EXIT.ok;
  }
  const o = planOptions(args);
  const facts = await (deps.readHost ?? readPlanHostFacts)();
  const style = styleFor(io);
  const notes: string[] = [];
  const { fatal } = hostNotes(facts, o, notes);
  if (fatal !== undefined) {
    if (o.json)
      printJson(io, { ok: false, error: { code: 'FPMKIT_IO', message: fatal.join('; ') } });
    else io.stderr(prose(io, `fpmkit plan: ${fatal.join('\n')}\n`, 2));
    return EXIT.input;
  }
  const existing = existingPool(o, deps, notes);
  if (existing !== undefined && o.listen === undefined && existing.pool.listen.address)
    o.listen = existing.pool.listen.address;
  const basis = planBasis(o, facts);
  let outcome: Outcome;
  try {
    outcome = chooseTraffic(basis.base, o.rps, basis.serviceTimeSeconds, basis.assumed, notes);
  } catch (error) {
    if (error instanceof FpmkitInvalidOptionError) throw new UsageError(error.message);
    throw error;
  }
  const made = makePlan(o, outcome, io, style);
  if (typeof made === 'number') return made;
  planNotes(o, facts, made.plan, notes);
  headerFromTable(o, existing, made, notes);
  let written: string[] | undefined;
  if (o.write !== undefined) {
    const result = writeFiles(o.write, made.files, o.force);
    if (!result.ok) {
      const { code, errno, message } = result;
      if (o.json)
        printJson(io, { ok: false, error: { code, ...(errno ? { errno } : {}), message } });
      else io.stderr(prose(io, `fpmkit plan: ${message}\n`, 2));
      return result.exit;
    }
    written = result.paths;
    if (result.note !== undefined) notes.push(result.note);
  }
  const report: PlanReport = { o, facts, basis, outcome, ...made, notes, written };
  if (o.json) printJson(io, jsonReport(report));
  else io.stdout(textReport(report, style, io));
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
