import { z } from 'zod';

/** Process manager modes (`pm`). */
export const PM_MODES = ['static', 'dynamic', 'ondemand'] as const;
/** A `pm` value: `static`, `dynamic` or `ondemand`. */
export type PmMode = (typeof PM_MODES)[number];

/** `log_level` values; FPM also accepts `warn`, which fpmkit reads as `warning`. */
export const LOG_LEVELS = ['debug', 'notice', 'warning', 'error', 'alert'] as const;
/** A `log_level` value (see {@link LOG_LEVELS}). */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** `syslog.facility` names Linux defines, lower-case (FPM matches them ignoring case). */
export const SYSLOG_FACILITIES = [
  'auth',
  'authpriv',
  'cron',
  'daemon',
  'ftp',
  'kern',
  'lpr',
  'mail',
  'news',
  'syslog',
  'user',
  'uucp',
  'local0',
  'local1',
  'local2',
  'local3',
  'local4',
  'local5',
  'local6',
  'local7',
] as const;
/** A `syslog.facility` name (see {@link SYSLOG_FACILITIES}). */
export type SyslogFacility = (typeof SYSLOG_FACILITIES)[number];

/** FPM stores integers in a C int. */
const int = () => z.number().int().min(-2147483648).max(2147483647);
/** Seconds as FPM stores them (a C int; negative values are accepted by FPM). */
const seconds = () => int();
/**
 * `listen.mode`: a number (`0o660`) or, as FPM takes it, octal digits as text (`'0660'`,
 * `'660'`); the model holds the number. The renderers write text as it was given, so
 * `php-fpm -tt` prints it back unchanged.
 */
const listenMode = () =>
  z.union([
    z.number().int().min(0).max(0o7777),
    z
      .string()
      .regex(LISTEN_MODE_TEXT_RE, { error: "must be octal digits up to 7777, e.g. '0660'" })
      .transform((text) => Number.parseInt(text, 8)),
  ]);
/** `listen.mode` written as text: octal digits, at most 0o7777 (leading zeros allowed). */
export const LISTEN_MODE_TEXT_RE = /^0*[0-7]{1,4}$/;
const rlimitCore = () => z.union([z.literal('unlimited'), int().min(0)]);

/**
 * A record keyed by FPM array keys (`env[KEY]`, `php_value[KEY]`). zod's `z.record` leaves out
 * an own `__proto__` key (assigning it would change the prototype); FPM takes `__proto__` as a
 * key like any other, so this record keeps every own key, written with `defineProperty`.
 */
function keyRecord<V extends z.ZodType>(value: V) {
  return z
    .custom<Record<string, z.input<V>>>(
      (input) => input !== null && typeof input === 'object' && !Array.isArray(input),
      { error: 'Invalid input: expected record' },
    )
    .transform((input, ctx) => {
      const out: Record<string, z.output<V>> = {};
      for (const key of Object.keys(input)) {
        const result = value.safeParse(input[key]);
        if (!result.success) {
          for (const issue of result.error.issues) {
            const located = { ...issue, input: input[key], path: [key, ...issue.path] };
            ctx.issues.push(located as (typeof ctx.issues)[number]);
          }
          continue;
        }
        Object.defineProperty(out, key, {
          value: result.data,
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return out;
    });
}

/**
 * `[global]` settings as written in the file. Unknown keys are refused (every schema here is
 * strict), so a misspelt field is an error naming it rather than a directive silently left out. An absent field means the directive is not set
 * and FPM's default applies (see `fpmDirectives` and `effectiveFpmConfig`).
 */
export const globalSchema = z.strictObject({
  pid: z.string().optional(),
  errorLog: z.string().optional(),
  syslog: z
    .strictObject({
      ident: z.string().optional(),
      facility: z.enum(SYSLOG_FACILITIES).optional(),
    })
    .prefault({}),
  logBuffering: z.boolean().optional(),
  logLevel: z.enum(LOG_LEVELS).optional(),
  logLimit: int().optional(),
  emergencyRestartThreshold: int().optional(),
  emergencyRestartIntervalSeconds: seconds().optional(),
  processControlTimeoutSeconds: seconds().optional(),
  process: z
    .strictObject({
      max: int().optional(),
      priority: int().optional(),
    })
    .prefault({}),
  daemonize: z.boolean().optional(),
  rlimitFiles: int().optional(),
  rlimitCore: rlimitCore().optional(),
  eventsMechanism: z.string().optional(),
  systemdIntervalSeconds: seconds().optional(),
});

/**
 * One pool as written in the file, grouped as the dotted directive names are. Absent fields
 * are directives the file does not set. `listen.mode` is a number (`0o660`); comma- and
 * space-separated directives are lists.
 */
export const poolSchema = z.strictObject({
  name: z.string(),
  prefix: z.string().optional(),
  user: z.string().optional(),
  group: z.string().optional(),
  listen: z
    .strictObject({
      address: z.string().optional(),
      backlog: int().optional(),
      aclUsers: z.array(z.string()).min(1).optional(),
      aclGroups: z.array(z.string()).min(1).optional(),
      owner: z.string().optional(),
      group: z.string().optional(),
      mode: listenMode().optional(),
      allowedClients: z.array(z.string()).min(1).optional(),
      setfib: int().optional(),
    })
    .prefault({}),
  process: z
    .strictObject({
      priority: int().optional(),
      dumpable: z.boolean().optional(),
    })
    .prefault({}),
  pm: z
    .strictObject({
      mode: z.enum(PM_MODES).optional(),
      maxChildren: int().optional(),
      startServers: int().optional(),
      minSpareServers: int().optional(),
      maxSpareServers: int().optional(),
      maxSpawnRate: int().optional(),
      processIdleTimeoutSeconds: seconds().optional(),
      maxRequests: int().optional(),
      statusPath: z.string().optional(),
      statusListen: z.string().optional(),
    })
    .prefault({}),
  ping: z
    .strictObject({
      path: z.string().optional(),
      response: z.string().optional(),
    })
    .prefault({}),
  access: z
    .strictObject({
      log: z.string().optional(),
      format: z.string().optional(),
      suppressPaths: z.array(z.string()).prefault([]),
    })
    .prefault({}),
  slowlog: z.string().optional(),
  requestSlowlogTimeoutSeconds: seconds().optional(),
  requestSlowlogTraceDepth: int().optional(),
  requestTerminateTimeoutSeconds: seconds().optional(),
  requestTerminateTimeoutTrackFinished: z.boolean().optional(),
  rlimitFiles: int().optional(),
  rlimitCore: rlimitCore().optional(),
  chroot: z.string().optional(),
  chdir: z.string().optional(),
  catchWorkersOutput: z.boolean().optional(),
  decorateWorkersOutput: z.boolean().optional(),
  clearEnv: z.boolean().optional(),
  securityLimitExtensions: z.array(z.string()).optional(),
  apparmorHat: z.string().optional(),
  env: keyRecord(z.string()).prefault({}),
  phpValue: keyRecord(z.string()).prefault({}),
  phpAdminValue: keyRecord(z.string()).prefault({}),
  phpFlag: keyRecord(z.boolean()).prefault({}),
  phpAdminFlag: keyRecord(z.boolean()).prefault({}),
});

/** A whole FPM configuration: the `[global]` section and the pools in file order. */
export const fpmConfigSchema = z.strictObject({
  global: globalSchema.prefault({}),
  pools: z.array(poolSchema),
});

/**
 * The `[global]` section as fpmkit returns it (`parseFpmConfig`, the planner): every group
 * present. To write one, use {@link GlobalConfigInput}.
 */
export type GlobalConfig = z.infer<typeof globalSchema>;
/**
 * One pool section as fpmkit returns it: every group and record present (`listen`, `pm`,
 * `env`, ...). To write one, use {@link PoolConfigInput}.
 */
export type PoolConfig = z.infer<typeof poolSchema>;
/**
 * A whole FPM configuration as fpmkit returns it: `[global]` and the pools, as
 * {@link fpmConfigSchema} outputs it. To write one, use {@link FpmConfigInput}.
 */
export type FpmConfig = z.infer<typeof fpmConfigSchema>;
/**
 * A `[global]` section as a user writes it, the type the renderers and checks take: every
 * field and group may be left out, and an optional field may also be `undefined` (the same as
 * leaving it out). A `GlobalConfig` is one too.
 */
export type GlobalConfigInput = z.input<typeof globalSchema>;
/**
 * A pool as a user writes it: only `name` is required; groups (`listen`, `pm`, ...) and records
 * (`env`, `phpValue`, ...) may be left out, optional fields may be `undefined`, and
 * `listen.mode` may be a number (`0o660`) or octal text (`'0660'`). A `PoolConfig` is one too.
 */
export type PoolConfigInput = z.input<typeof poolSchema>;
/**
 * A whole configuration as a user writes it: `{ pools: [...] }`, with `global` optional. The
 * type `renderFpmConfig`, `checkFpmConfig` and `fpmkit render` take; an `FpmConfig` is one too.
 */
export type FpmConfigInput = z.input<typeof fpmConfigSchema>;

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
/** The literal lists above and the schemas' unions are the same lists (checked at compile time). */
const listsMatch: [
  Same<NonNullable<PoolConfig['pm']['mode']>, PmMode>,
  Same<NonNullable<GlobalConfig['logLevel']>, LogLevel>,
  Same<NonNullable<GlobalConfig['syslog']['facility']>, SyslogFacility>,
] = [true, true, true];
void listsMatch;

/** An empty pool model with only its name, as the parser creates it for a new `[name]`. */
export function emptyPool(name: string): PoolConfig {
  return poolSchema.parse({ name });
}

/** An empty `[global]` model. */
export function emptyGlobal(): GlobalConfig {
  return globalSchema.parse({});
}
