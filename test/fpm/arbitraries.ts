import fc from 'fast-check';
import type { FpmConfig, GlobalConfig, PoolConfig } from '../../src/fpm/index.js';
import { emptyGlobal, emptyPool } from '../../src/fpm/schema.js';

/**
 * Random models that php-fpm 8.2 accepts. `dir` is a writable directory for sockets and logs;
 * text fields that FPM does not validate get awkward characters (quotes, backslashes, `$`,
 * `;`, `=`, brackets) so the renderer's quoting is exercised.
 */
const AWKWARD = [...'abcXYZ019 _-./:"\'\\$;=[]{}()!~&|^#%,@+?*<>\t'];
export const awkwardText = (minLength = 0) =>
  fc
    .string({ unit: fc.constantFrom(...AWKWARD), minLength, maxLength: 24 })
    .filter((s) => !s.includes('$pool'));

const ACCESS_PIECES = [
  '%R',
  '%s',
  '%t',
  '%{%Y-%m-%d}t',
  '%m',
  '%r',
  '%{seconds}d',
  '%{mega}M',
  '%{HTTP_HOST}e',
  '%{X-Test}o',
  '%%',
  ' ',
  '-',
  '"',
  'x',
  '%C',
  '%{user}C',
];

/** A string over a small alphabet: much faster to generate than a regular expression. */
const word = (alphabet: string, min: number, max: number, prefix = '') =>
  fc
    .string({ unit: fc.constantFrom(...alphabet), minLength: min, maxLength: max })
    .map((w) => `${prefix}${w}`);

const setIf = <T extends object>(target: T, values: Partial<T>) => {
  for (const [k, v] of Object.entries(values))
    if (v !== undefined) (target as Record<string, unknown>)[k] = v;
  return target;
};

export const globalArb = (dir: string): fc.Arbitrary<GlobalConfig> =>
  fc
    .record(
      {
        pid: fc.constant(`${dir}/fpm.pid`),
        errorLog: fc.constant(`${dir}/fpm.log`),
        ident: awkwardText(1),
        facility: fc.constantFrom('daemon', 'local0', 'user'),
        logBuffering: fc.boolean(),
        logLevel: fc.constantFrom('debug', 'notice', 'warning', 'error', 'alert'),
        logLimit: fc.integer({ min: 512, max: 65536 }),
        threshold: fc.integer({ min: 0, max: 100 }),
        interval: fc.integer({ min: 0, max: 86400 }),
        pct: fc.integer({ min: 0, max: 3600 }),
        max: fc.integer({ min: 0, max: 4096 }),
        priority: fc.integer({ min: -19, max: 20 }),
        daemonize: fc.boolean(),
        rlimitFiles: fc.integer({ min: 0, max: 65536 }),
        rlimitCore: fc.oneof(
          fc.constant('unlimited' as const),
          fc.integer({ min: 0, max: 1 << 20 }),
        ),
        systemd: fc.integer({ min: 0, max: 600 }),
      },
      { requiredKeys: ['errorLog'] },
    )
    .map((r) => {
      const g = emptyGlobal();
      setIf(g, {
        pid: r.pid,
        errorLog: r.errorLog,
        logBuffering: r.logBuffering,
        logLevel: r.logLevel,
        logLimit: r.logLimit,
        emergencyRestartThreshold: r.threshold,
        emergencyRestartIntervalSeconds: r.interval,
        processControlTimeoutSeconds: r.pct,
        daemonize: r.daemonize,
        rlimitFiles: r.rlimitFiles,
        rlimitCore: r.rlimitCore,
        systemdIntervalSeconds: r.systemd,
      });
      setIf(g.syslog, { ident: r.ident, facility: r.facility });
      setIf(g.process, { max: r.max, priority: r.priority });
      return g;
    });

const pmArb = fc.oneof(
  fc.record({ mode: fc.constant('static' as const), maxChildren: fc.integer({ min: 1, max: 64 }) }),
  fc
    .tuple(
      fc.integer({ min: 1, max: 8 }),
      fc.integer({ min: 0, max: 8 }),
      fc.integer({ min: 0, max: 16 }),
      fc.integer({ min: 1, max: 64 }),
    )
    .chain(([min, extra, more, rate]) =>
      fc.record({
        mode: fc.constant('dynamic' as const),
        minSpareServers: fc.constant(min),
        maxSpareServers: fc.constant(min + extra),
        maxChildren: fc.constant(min + extra + more),
        startServers: fc.integer({ min, max: min + extra }),
        maxSpawnRate: fc.constant(rate),
      }),
    ),
  fc.record({
    mode: fc.constant('ondemand' as const),
    maxChildren: fc.integer({ min: 1, max: 64 }),
    processIdleTimeoutSeconds: fc.integer({ min: 1, max: 3600 }),
  }),
);

const poolArb = (dir: string, name: string, port: number): fc.Arbitrary<PoolConfig> =>
  fc
    .record(
      {
        tcp: fc.boolean(),
        backlog: fc.integer({ min: -1, max: 65535 }),
        mode: fc.integer({ min: 0, max: 0o777 }),
        owner: fc.constant('www-data'),
        allowed: fc.constant<string[]>(['127.0.0.1']),
        priority: fc.integer({ min: -19, max: 20 }),
        dumpable: fc.boolean(),
        pm: pmArb,
        maxRequests: fc.integer({ min: 0, max: 100000 }),
        status: word('abcxyz019_.~-', 1, 12, '/'),
        pingPath: word('abcxyz019_-', 1, 12, '/'),
        pingResponse: awkwardText(1),
        accessLog: fc.constant(`${dir}/${name}.access.log`),
        accessFormat: fc
          .array(fc.constantFrom(...ACCESS_PIECES), { minLength: 1, maxLength: 8 })
          .map((a) => a.join('')),
        slow: fc.tuple(
          fc.integer({ min: 1, max: 60 }),
          fc.integer({ min: 0, max: 600 }),
          fc.integer({ min: 1, max: 100 }),
        ),
        terminate: fc.integer({ min: 0, max: 3600 }),
        track: fc.boolean(),
        rlimitFiles: fc.integer({ min: 0, max: 65536 }),
        catchOutput: fc.boolean(),
        decorate: fc.boolean(),
        clearEnv: fc.boolean(),
        extensions: fc.constantFrom(['.php'], ['.php', '.phar', '.php8'], [] as string[]),
        // FPM reads an env value starting with '$' as the master's variable: not a valid model.
        env: fc.dictionary(
          word('ABCXYZ09_', 0, 7, 'E'),
          awkwardText(1).filter((v) => !v.startsWith('$')),
          { maxKeys: 3 },
        ),
        phpValue: fc.dictionary(word('abcxyz.', 0, 11, 'v'), awkwardText(0), { maxKeys: 3 }),
        phpAdminValue: fc.dictionary(word('abcxyz.', 0, 11, 'v'), awkwardText(0), { maxKeys: 3 }),
        phpFlag: fc.dictionary(word('abcxyz', 1, 6, 'flag_'), fc.boolean(), { maxKeys: 2 }),
        phpAdminFlag: fc.dictionary(word('abcxyz', 1, 6, 'flag_'), fc.boolean(), { maxKeys: 2 }),
        suppress: fc.array(word('abcxyz', 1, 8, '/'), { maxLength: 2 }),
      },
      { requiredKeys: ['pm', 'tcp'] },
    )
    .map((r) => {
      const pool = emptyPool(name);
      pool.user = 'www-data';
      pool.group = 'www-data';
      pool.listen.address = r.tcp ? `127.0.0.1:${port}` : `${dir}/${name}.sock`;
      setIf(pool.listen, { backlog: r.backlog, mode: r.mode, owner: r.owner });
      if (r.tcp && r.allowed) pool.listen.allowedClients = r.allowed;
      setIf(pool.process, { priority: r.priority, dumpable: r.dumpable });
      Object.assign(pool.pm, r.pm);
      setIf(pool.pm, { maxRequests: r.maxRequests, statusPath: r.status });
      if (r.pingPath) {
        pool.ping.path = r.pingPath;
        if (r.pingResponse !== undefined) pool.ping.response = r.pingResponse;
      }
      if (r.accessLog) {
        pool.access.log = r.accessLog;
        if (r.accessFormat !== undefined) pool.access.format = r.accessFormat;
      }
      if (r.slow) {
        const [slowTimeout, extra, depth] = r.slow;
        pool.slowlog = `${dir}/${name}.slow.log`;
        pool.requestSlowlogTimeoutSeconds = slowTimeout;
        pool.requestTerminateTimeoutSeconds = slowTimeout + extra;
        pool.requestSlowlogTraceDepth = depth;
      } else if (r.terminate !== undefined) {
        pool.requestTerminateTimeoutSeconds = r.terminate;
      }
      setIf(pool, {
        requestTerminateTimeoutTrackFinished: r.track,
        rlimitFiles: r.rlimitFiles,
        chdir: '/',
        catchWorkersOutput: r.catchOutput,
        decorateWorkersOutput: r.decorate,
        clearEnv: r.clearEnv,
        securityLimitExtensions: r.extensions,
      });
      if (r.env) pool.env = r.env;
      if (r.phpValue) pool.phpValue = r.phpValue;
      if (r.phpAdminValue) pool.phpAdminValue = r.phpAdminValue;
      if (r.phpFlag) pool.phpFlag = r.phpFlag;
      if (r.phpAdminFlag) pool.phpAdminFlag = r.phpAdminFlag;
      if (r.suppress) pool.access.suppressPaths = r.suppress;
      return pool;
    });

const NAMES = ['www', 'api', 'shop', 'Admin-2', 'a.b@c+d'];

/** A whole valid configuration with one to three pools. */
export const configArb = (dir: string, basePort = 19500): fc.Arbitrary<FpmConfig> =>
  fc
    .tuple(globalArb(dir), fc.integer({ min: 1, max: 3 }))
    .chain(([global, count]) =>
      fc
        .tuple(...NAMES.slice(0, count).map((name, i) => poolArb(dir, name, basePort + i)))
        .map((pools) => ({ global, pools })),
    );
