import fc from 'fast-check';
import {
  type ApacheProxyFcgiInput,
  apacheProxyFcgiSchema,
  FASTCGI_NEXT_UPSTREAM_CONDITIONS,
  type NginxFastcgiInput,
  nginxFastcgiSchema,
  type PhpIniInput,
} from '../../src/web/index.js';

/** Optional field: absent or a value, keeping `exactOptionalPropertyTypes` happy. */
const opt = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });

/** Drops keys whose value is undefined. */
export function compact<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** An empty group is written as absent, as the parser reports it. */
function dropEmpty<T extends object>(o: T | undefined): T | undefined {
  return o === undefined || Object.keys(o).length === 0 ? undefined : o;
}

/** Path segments with characters servers accept between quotes, including spaces. */
const segment = fc.stringMatching(/^[A-Za-z0-9_.-][A-Za-z0-9 _.;=#{}'-]{0,11}$/);
export const absolutePath = fc
  .array(segment, { minLength: 1, maxLength: 4 })
  .map((parts) => `/${parts.join('/')}`)
  .filter((p) => Buffer.byteLength(p) <= 100 && !p.includes('${'));

/** Host names nginx can resolve while testing the config (it resolves upstream names). */
const host = fc.oneof(
  fc.ipV4(),
  fc.constantFrom('::1', '127.0.0.1', 'localhost', 'fd00::10', '2001:db8::1'),
);
const port = fc.integer({ min: 1, max: 65535 });

const cidr = fc.oneof(
  fc.ipV4(),
  fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 32 })).map(([a, p]) => `${a}/${p}`),
  fc.constantFrom('::1', 'fd00::/8', '2001:db8::/32', 'unix:'),
);

const restricted = (pathArb: fc.Arbitrary<string>) =>
  fc.record({ path: pathArb, allow: fc.array(cidr, { minLength: 1, maxLength: 4 }) });

const BUFFER_SIZES = [1024, 4096, 8192, 16384, 32768, 65536, 131072, 1024 * 1024, 5000];

/** Random nginx settings that the schema accepts. */
export const nginxSettingsArb: fc.Arbitrary<NginxFastcgiInput> = fc
  .record({
    upstream: fc
      .record({
        name: opt(fc.stringMatching(/^[a-z_][a-z0-9_.-]{0,10}$/)),
        servers: fc.array(
          fc.oneof(
            absolutePath.map((socketPath) => ({ socketPath })),
            fc.record({ host, port }),
          ),
          { minLength: 1, maxLength: 3 },
        ),
        keepalive: opt(fc.integer({ min: 1, max: 1024 })),
        keepaliveTimeoutSeconds: opt(fc.integer({ min: 1, max: 3600 })),
        keepaliveRequests: opt(fc.integer({ min: 1, max: 100000 })),
      })
      .map(compact),
    locationRegex: opt(
      fc.constantFrom('\\.php$', '[^/]\\.php(/|$)', '^/app/.+\\.php$', '\\.(php|phtml)$'),
    ),
    splitPathInfo: opt(fc.constantFrom('^(.+?\\.php)(/.*)$', '^(.+\\.php)(.*)$')),
    tryFilesGuard: opt(fc.boolean()),
    scriptFilename: opt(
      fc.constantFrom(
        '$document_root$fastcgi_script_name',
        '/srv/my site/$fastcgi_script_name',
        '$realpath_root$fastcgi_script_name',
      ),
    ),
    standardParams: opt(fc.boolean()),
    params: opt(
      fc.dictionary(
        fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,12}$/),
        fc.oneof(
          fc.constant(''),
          fc.stringMatching(/^[A-Za-z0-9 ;{}#'=/.:-]{1,20}$/),
          fc.constantFrom('$host', '$request_id', 'on'),
        ),
        { maxKeys: 4 },
      ),
    ),
    connectTimeoutSeconds: opt(fc.integer({ min: 1, max: 75 })),
    sendTimeoutSeconds: opt(fc.integer({ min: 1, max: 86400 })),
    readTimeoutSeconds: opt(fc.integer({ min: 1, max: 86400 })),
    requestBuffering: opt(fc.boolean()),
    buffering: opt(fc.boolean()),
    buffers: opt(
      fc.record({
        count: fc.integer({ min: 2, max: 256 }),
        sizeBytes: fc.constantFrom(...BUFFER_SIZES),
      }),
    ),
    bufferSizeBytes: opt(fc.constantFrom(...BUFFER_SIZES)),
    keepConn: opt(fc.boolean()),
    nextUpstream: opt(
      fc.oneof(
        fc.constant('off' as const),
        fc.subarray([...FASTCGI_NEXT_UPSTREAM_CONDITIONS], { minLength: 1 }),
      ),
    ),
    clientMaxBodySizeBytes: opt(
      fc.oneof(fc.constant('unlimited' as const), fc.integer({ min: 1, max: 2 ** 40 })),
    ),
    clientBodyTimeoutSeconds: opt(fc.integer({ min: 1, max: 3600 })),
    workerProcesses: opt(fc.oneof(fc.constant('auto' as const), fc.integer({ min: 1, max: 64 }))),
    workerConnections: opt(fc.integer({ min: 16, max: 65535 })),
    workerRlimitNofile: opt(fc.integer({ min: 1024, max: 1048576 })),
    status: opt(restricted(fc.stringMatching(/^\/s[A-Za-z0-9_.~-]{0,10}$/))),
    ping: opt(restricted(fc.stringMatching(/^\/p[A-Za-z0-9_.~-]{0,10}$/))),
  })
  .map((s) => compact(s) as NginxFastcgiInput)
  .filter((s) => nginxFastcgiSchema.safeParse(s).success);

/** Random Apache settings that the schema accepts (mpm_event numbers built to be consistent). */
export const apacheSettingsArb: fc.Arbitrary<ApacheProxyFcgiInput> = fc
  .record({
    backend: fc.oneof(
      absolutePath.filter((p) => !p.includes('\\')).map((socketPath) => ({ socketPath })),
      fc.record({ host, port }),
    ),
    workerName: opt(fc.stringMatching(/^[a-z][a-z0-9-]{0,10}[a-z0-9]$/)),
    filesMatch: opt(fc.constantFrom('\\.php$', '.+\\.ph(?:ar|p|tml)$', '^index\\.php$')),
    requireExistingFile: opt(fc.boolean()),
    proxySetTimeoutSeconds: opt(fc.integer({ min: 1, max: 86400 })),
    connectionTimeoutSeconds: opt(fc.integer({ min: 1, max: 600 })),
    flushPackets: opt(fc.constantFrom('on' as const, 'off' as const, 'auto' as const)),
    enableReuse: opt(fc.boolean()),
    maxConnections: opt(fc.integer({ min: 1, max: 64 })),
    proxyTimeoutSeconds: opt(fc.integer({ min: 1, max: 86400 })),
    timeoutSeconds: opt(fc.integer({ min: 1, max: 86400 })),
    mpmEvent: opt(
      fc
        .record({
          threadsPerChild: fc.integer({ min: 1, max: 64 }),
          serverLimit: fc.integer({ min: 1, max: 64 }),
          k: fc.integer({ min: 1, max: 64 }),
          startServers: opt(fc.integer({ min: 1, max: 8 })),
          minSpare: opt(fc.integer({ min: 1, max: 100 })),
          extraSpare: opt(fc.integer({ min: 0, max: 100 })),
          maxConnectionsPerChild: opt(fc.integer({ min: 0, max: 100000 })),
          writeLimits: fc.boolean(),
        })
        .map((m) => {
          const k = Math.min(m.k, m.serverLimit);
          const withSpare =
            m.minSpare === undefined
              ? {}
              : {
                  minSpareThreads: m.minSpare,
                  maxSpareThreads: m.minSpare + m.threadsPerChild + (m.extraSpare ?? 0),
                };
          return compact({
            ...(m.writeLimits
              ? {
                  threadsPerChild: m.threadsPerChild,
                  serverLimit: m.serverLimit,
                  maxRequestWorkers: k * m.threadsPerChild,
                }
              : {}),
            startServers: m.startServers,
            maxConnectionsPerChild: m.maxConnectionsPerChild,
            ...(m.writeLimits ? withSpare : {}),
          });
        }),
    ),
  })
  .map((s) => compact(s) as ApacheProxyFcgiInput)
  .filter((s) => apacheProxyFcgiSchema.safeParse(s).success);

const MIB = 1024 * 1024;
const size = fc.oneof(
  fc.integer({ min: 1, max: 4096 }).map((n) => n * MIB),
  fc.integer({ min: 1, max: 1_000_000 }).map((n) => n * 1024),
  fc.integer({ min: 1, max: 16 }).map((n) => n * 1024 * MIB),
  fc.integer({ min: 1, max: 10_000_000 }),
);

/** Random php.ini settings that the schema accepts. */
export const phpIniSettingsArb: fc.Arbitrary<PhpIniInput> = fc
  .record({
    maxExecutionTimeSeconds: opt(
      fc.oneof(fc.constant('unlimited' as const), fc.integer({ min: 1, max: 86400 })),
    ),
    maxInputTimeSeconds: opt(
      fc.oneof(
        fc.constantFrom('unlimited' as const, 'max_execution_time' as const),
        fc.integer({ min: 1, max: 86400 }),
      ),
    ),
    memoryLimitBytes: opt(
      fc.oneof(
        fc.constant('unlimited' as const),
        size.filter((n) => n >= 2 * MIB),
      ),
    ),
    postMaxSizeBytes: opt(fc.oneof(fc.constant('unlimited' as const), size)),
    uploadMaxFilesizeBytes: opt(size),
    maxFileUploads: opt(fc.integer({ min: 0, max: 10000 })),
    realpathCacheSizeBytes: opt(fc.oneof(fc.constant(0), size)),
    exposePhp: opt(fc.boolean()),
    cgi: opt(fc.record({ fixPathinfo: opt(fc.boolean()) }).map(compact)).map(dropEmpty),
    opcache: opt(
      fc
        .record({
          enable: opt(fc.boolean()),
          memoryConsumptionMegabytes: opt(fc.integer({ min: 8, max: 4096 })),
          internedStringsBufferMegabytes: opt(fc.integer({ min: 0, max: 4095 })),
          maxAcceleratedFiles: opt(fc.integer({ min: 200, max: 1_000_000 })),
          validateTimestamps: opt(fc.boolean()),
          revalidateFreqSeconds: opt(fc.integer({ min: 0, max: 86400 })),
          preload: opt(absolutePath),
        })
        .map(compact),
    ).map(dropEmpty),
  })
  .map((s) => compact(s) as PhpIniInput);
