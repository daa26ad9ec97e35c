import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type CheckStackOptions,
  checkStack,
  STACK_FINDING_CODES,
  type StackFindingCode,
  type StackInput,
} from '../../src/doctor/index.js';
import { isFpmkitError } from '../../src/errors.js';
import { findingSchema } from '../../src/findings.js';
import type { FpmConfigInput, PoolConfigInput } from '../../src/fpm/index.js';

const MiB = 1024 * 1024;
const SOCKET = '/run/php/www.sock';

/** A stack where every layer agrees: checkStack must find nothing. */
function goodPool(): PoolConfigInput {
  return {
    name: 'www',
    user: 'www-data',
    group: 'www-data',
    listen: { address: SOCKET, owner: 'www-data', group: 'www-data', mode: 0o660, backlog: 511 },
    pm: {
      mode: 'dynamic',
      maxChildren: 20,
      startServers: 3,
      minSpareServers: 2,
      maxSpareServers: 6,
      maxRequests: 500,
      statusPath: '/fpm-status',
      statusListen: '/run/php/www-status.sock',
    },
    ping: { path: '/fpm-ping' },
    requestTerminateTimeoutSeconds: 60,
  };
}

interface Stack extends StackInput {
  fpm: { global: NonNullable<FpmConfigInput['global']>; pools: PoolConfigInput[] };
}

function good(): Stack {
  return {
    fpm: { global: { processControlTimeoutSeconds: 70, rlimitFiles: 65536 }, pools: [goodPool()] },
    kernel: { somaxconn: 4096, nrOpen: 1048576, limitNofile: 65536 },
    nginx: {
      upstream: { servers: [{ socketPath: SOCKET }], keepalive: 4, keepaliveTimeoutSeconds: 30 },
      keepConn: true,
      workerProcesses: 2,
      readTimeoutSeconds: 70,
      clientMaxBodySizeBytes: 32 * MiB,
      status: { path: '/fpm-status', allow: ['127.0.0.1', '::1'] },
      ping: { path: '/fpm-ping', allow: ['127.0.0.1'] },
    },
    php: {
      maxExecutionTimeSeconds: 30,
      memoryLimitBytes: 128 * MiB,
      postMaxSizeBytes: 32 * MiB,
      uploadMaxFilesizeBytes: 16 * MiB,
    },
    webServerUser: { name: 'www-data', groups: ['www-data'] },
    database: { maxConnections: 151, connectionsPerChild: 1 },
    memoryBudgetBytes: 4096 * MiB,
  };
}

/** An Apache front end for the good stack, replacing nginx. */
function withApache(s: Stack, apache: Partial<NonNullable<StackInput['apache']>> = {}): Stack {
  const { nginx: _nginx, ...rest } = s;
  return {
    ...rest,
    apache: {
      proxyTimeoutSeconds: 70,
      mpmEvent: { serverLimit: 3, threadsPerChild: 10, maxRequestWorkers: 30 },
      ...apache,
      backend: apache.backend ?? { socketPath: SOCKET },
    },
  };
}

type Edit = (s: Stack) => Stack | undefined;
const pool = (s: Stack) => s.fpm.pools[0]!;

interface Row {
  code: StackFindingCode;
  severity: 'error' | 'warning' | 'info';
  /** Turns the good stack into one where the check fires. */
  fires: Edit;
  /** A near miss: the closest change where it must stay quiet. */
  quiet: Edit;
  options?: CheckStackOptions;
  /** Evidence the firing finding must carry. */
  evidence?: Record<string, unknown>;
}

const rows: Row[] = [
  {
    code: 'stack.max-execution-above-terminate',
    severity: 'warning',
    fires: (s) => {
      s.php!.maxExecutionTimeSeconds = 56; // 56 + 5 > 60
      return s;
    },
    quiet: (s) => {
      s.php!.maxExecutionTimeSeconds = 55;
      return s;
    },
    evidence: { maxExecutionTimeSeconds: 56, requestTerminateTimeoutSeconds: 60 },
  },
  {
    code: 'stack.max-execution-above-terminate',
    severity: 'warning',
    // The pool's php_admin_value wins over php.ini.
    fires: (s) => {
      pool(s).phpAdminValue = { max_execution_time: '120' };
      return s;
    },
    quiet: (s) => {
      s.php!.maxExecutionTimeSeconds = 120;
      pool(s).phpValue = { max_execution_time: '20' };
      return s;
    },
    evidence: { maxExecutionTimeFrom: 'php_admin_value[max_execution_time]' },
  },
  {
    code: 'stack.no-wall-clock-limit',
    severity: 'warning',
    fires: (s) => {
      delete pool(s).requestTerminateTimeoutSeconds;
      return s;
    },
    quiet: (s) => {
      pool(s).requestTerminateTimeoutSeconds = 35;
      return s;
    },
    evidence: { requestTerminateTimeoutSeconds: 0 },
  },
  {
    code: 'stack.process-control-timeout-short',
    severity: 'warning',
    fires: (s) => {
      s.fpm.global.processControlTimeoutSeconds = 59;
      return s;
    },
    quiet: (s) => {
      s.fpm.global.processControlTimeoutSeconds = 60;
      return s;
    },
    evidence: { processControlTimeoutSeconds: 59, longestRequestSeconds: 60 },
  },
  {
    code: 'stack.process-control-timeout-short',
    severity: 'warning',
    // Unset means 0: every reload kills requests in flight.
    fires: (s) => {
      delete s.fpm.global.processControlTimeoutSeconds;
      return s;
    },
    quiet: (s) => {
      s.fpm.global.processControlTimeoutSeconds = 600;
      return s;
    },
    evidence: { processControlTimeoutSeconds: 0 },
  },
  {
    code: 'stack.web-timeout-below-request',
    severity: 'warning',
    fires: (s) => {
      delete s.nginx!.readTimeoutSeconds; // nginx's 60s default, no margin over 60s
      return s;
    },
    quiet: (s) => {
      s.nginx!.readTimeoutSeconds = 65;
      return s;
    },
    evidence: { webServer: 'nginx', webTimeoutSeconds: 60, longestRequestSeconds: 60 },
  },
  {
    code: 'stack.web-timeout-below-request',
    severity: 'warning',
    // Apache: ProxySet timeout= wins over ProxyTimeout.
    fires: (s) => withApache(s, { proxySetTimeoutSeconds: 30, proxyTimeoutSeconds: 300 }),
    quiet: (s) => withApache(s, { timeoutSeconds: 30, proxyTimeoutSeconds: 65 }),
    evidence: { webServer: 'apache', webTimeoutSeconds: 30 },
  },
  {
    code: 'stack.backlog-above-somaxconn',
    severity: 'warning',
    fires: (s) => {
      s.kernel.somaxconn = 128;
      return s;
    },
    quiet: (s) => {
      s.kernel.somaxconn = 511;
      return s;
    },
    evidence: { listenBacklog: 511, somaxconn: 128, effectiveBacklog: 128 },
  },
  {
    code: 'stack.socket-not-writable',
    severity: 'error',
    // listen.owner unset: the socket belongs to the master (root:root), mode 0660.
    fires: (s) => {
      pool(s).listen = { address: SOCKET };
      return s;
    },
    quiet: (s) => {
      pool(s).listen = { address: SOCKET, group: 'www-data' };
      return s;
    },
    evidence: { owner: 'root', group: 'root', mode: '0660', checkedAs: 'other', ownerUnset: true },
  },
  {
    code: 'stack.socket-not-writable',
    severity: 'error',
    // The owner may connect only with the owner's write bit.
    fires: (s) => {
      pool(s).listen!.mode = 0o460;
      s.webServerUser = { name: 'www-data', groups: ['www-data'] };
      return s;
    },
    quiet: (s) => {
      pool(s).listen!.mode = 0o600;
      return s;
    },
    evidence: { checkedAs: 'owner', mode: '0460' },
  },
  {
    code: 'stack.socket-not-writable',
    severity: 'error',
    // ACLs replace listen.owner: the web server user must be in them.
    fires: (s) => {
      pool(s).listen = { address: SOCKET, aclUsers: ['nginx'] };
      return s;
    },
    quiet: (s) => {
      pool(s).listen = { address: SOCKET, aclGroups: ['www-data'] };
      return s;
    },
    evidence: { aclUsers: ['nginx'] },
  },
  {
    code: 'stack.socket-world-writable',
    severity: 'warning',
    fires: (s) => {
      pool(s).listen!.mode = 0o666;
      return s;
    },
    quiet: (s) => {
      pool(s).listen!.mode = 0o664;
      return s;
    },
    evidence: { mode: '0666' },
  },
  {
    code: 'stack.listen-owner-ignored',
    severity: 'warning',
    fires: (s) => {
      pool(s).listen!.aclUsers = ['www-data'];
      return s;
    },
    quiet: (s) => {
      pool(s).listen = { address: SOCKET, aclUsers: ['www-data'] };
      return s;
    },
    evidence: { owner: 'www-data', aclUsers: ['www-data'] },
  },
  {
    code: 'stack.allowed-clients-unix',
    severity: 'warning',
    fires: (s) => {
      pool(s).listen!.allowedClients = ['127.0.0.1'];
      return s;
    },
    quiet: (s) => {
      pool(s).listen = {
        ...pool(s).listen,
        address: '127.0.0.1:9000',
        allowedClients: ['127.0.0.1'],
      };
      s.nginx!.upstream.servers = [{ host: '127.0.0.1', port: 9000 }];
      return s;
    },
  },
  {
    code: 'stack.fpm-listen-open',
    severity: 'warning',
    fires: (s) => {
      pool(s).listen!.address = '9000';
      s.nginx!.upstream.servers = [{ host: '127.0.0.1', port: 9000 }];
      return s;
    },
    quiet: (s) => {
      pool(s).listen!.address = '127.0.0.1:9000';
      s.nginx!.upstream.servers = [{ host: '127.0.0.1', port: 9000 }];
      return s;
    },
    evidence: { address: '9000', port: 9000 },
  },
  {
    code: 'stack.fpm-listen-open',
    severity: 'warning',
    fires: (s) => {
      pool(s).pm!.statusListen = '[::]:9001';
      return s;
    },
    quiet: (s) => {
      pool(s).pm!.statusListen = '127.0.0.1:9001';
      return s;
    },
  },
  {
    code: 'stack.upstream-unknown',
    severity: 'error',
    fires: (s) => {
      s.nginx!.upstream.servers = [{ socketPath: '/run/php/php8.2-fpm.sock' }];
      return s;
    },
    quiet: (s) => {
      pool(s).listen!.address = '[::1]:9000';
      s.nginx!.upstream.servers = [{ host: 'localhost', port: 9000 }];
      return s;
    },
    evidence: { backend: 'unix:/run/php/php8.2-fpm.sock' },
  },
  {
    code: 'stack.status-exposed',
    severity: 'warning',
    fires: (s) => {
      s.nginx!.status = { path: '/fpm-status', allow: ['10.0.0.0/8', '0.0.0.0/0'] };
      return s;
    },
    quiet: (s) => {
      s.nginx!.status = { path: '/fpm-status', allow: ['10.0.0.0/8'] };
      return s;
    },
  },
  {
    code: 'stack.status-exposed',
    severity: 'warning',
    // No status location, and the PHP location would pass /status.php on without a guard.
    fires: (s) => {
      pool(s).pm!.statusPath = '/status.php';
      delete s.nginx!.status;
      s.nginx!.tryFilesGuard = false;
      return s;
    },
    quiet: (s) => {
      pool(s).pm!.statusPath = '/status.php';
      delete s.nginx!.status;
      return s;
    },
    evidence: { webServer: 'nginx', path: '/status.php', locationRegex: '\\.php$' },
  },
  {
    code: 'stack.status-exposed',
    severity: 'warning',
    fires: (s) => {
      pool(s).pm!.statusPath = '/status.php';
      pool(s).ping = {};
      return withApache(s, { requireExistingFile: false });
    },
    quiet: (s) => {
      pool(s).pm!.statusPath = '/status.php';
      return withApache(s);
    },
    evidence: { webServer: 'apache' },
  },
  {
    code: 'stack.status-listen-missing',
    severity: 'info',
    fires: (s) => {
      delete pool(s).pm!.statusListen;
      return s;
    },
    quiet: (s) => {
      delete pool(s).pm!.statusListen;
      delete pool(s).pm!.statusPath;
      delete s.nginx!.status;
      return s;
    },
    evidence: { statusPath: '/fpm-status', suggested: '/run/php/www-status.sock' },
  },
  {
    code: 'stack.ping-exposed',
    severity: 'info',
    fires: (s) => {
      s.nginx!.ping = { path: '/fpm-ping', allow: ['::/0'] };
      return s;
    },
    quiet: (s) => {
      s.nginx!.ping = { path: '/fpm-ping', allow: ['::1/128'] };
      return s;
    },
  },
  {
    code: 'stack.status-path-mismatch',
    severity: 'warning',
    fires: (s) => {
      pool(s).pm!.statusPath = '/status';
      return s;
    },
    quiet: (s) => {
      pool(s).pm!.statusPath = '/status';
      s.nginx!.status!.path = '/status';
      return s;
    },
    evidence: { nginxPath: '/fpm-status', fpmPath: '/status' },
  },
  {
    code: 'stack.keepalive-without-keep-conn',
    severity: 'info',
    fires: (s) => {
      delete s.nginx!.keepConn;
      return s;
    },
    quiet: (s) => {
      delete s.nginx!.keepConn;
      delete s.nginx!.upstream.keepalive;
      return s;
    },
  },
  {
    code: 'stack.keepalive-pins-workers',
    severity: 'warning',
    fires: (s) => {
      s.nginx!.upstream.keepalive = 10; // 10 x 2 workers = 20 = max_children
      return s;
    },
    quiet: (s) => {
      s.nginx!.upstream.keepalive = 9;
      return s;
    },
    evidence: { pinnedConnections: 20, maxChildren: 20 },
  },
  {
    code: 'stack.keepalive-pins-workers',
    severity: 'warning',
    // worker_processes auto counts as the CPUs given in the options.
    fires: (s) => {
      s.nginx!.workerProcesses = 'auto';
      return s;
    },
    quiet: (s) => {
      s.nginx!.workerProcesses = 'auto';
      s.nginx!.upstream.keepalive = 3; // 3 x 5 = 15
      return s;
    },
    options: { nginxAutoWorkerProcesses: 5 },
    evidence: { workersCounted: 5, pinnedConnections: 20 },
  },
  {
    code: 'stack.keepalive-pins-workers',
    severity: 'warning',
    fires: (s) => withApache(s, { enableReuse: true }), // 10 per process x 3 processes = 30
    quiet: (s) => withApache(s, { enableReuse: true, maxConnections: 6 }), // 18
    evidence: { pinned: 30 },
  },
  {
    code: 'stack.keepalive-timeout-above-terminate',
    severity: 'info',
    fires: (s) => {
      delete s.nginx!.upstream.keepaliveTimeoutSeconds; // nginx's 60s default
      return s;
    },
    quiet: (s) => {
      s.nginx!.upstream.keepaliveTimeoutSeconds = 59;
      return s;
    },
    evidence: { keepaliveTimeoutSeconds: 60, requestTerminateTimeoutSeconds: 60 },
  },
  {
    code: 'stack.apache-workers-below-children',
    severity: 'warning',
    fires: (s) => withApache(s, { mpmEvent: { threadsPerChild: 10, maxRequestWorkers: 10 } }),
    quiet: (s) => withApache(s, { mpmEvent: { threadsPerChild: 20, maxRequestWorkers: 20 } }),
    evidence: { maxRequestWorkers: 10, maxChildren: 20 },
  },
  {
    code: 'stack.apache-workers-above-queue',
    severity: 'warning',
    // Default MaxRequestWorkers 400 > 20 children + 127 + 1 queue slots.
    fires: (s) => {
      pool(s).listen!.backlog = 127;
      return withApache(s, { mpmEvent: {} });
    },
    quiet: (s) => {
      pool(s).listen!.backlog = 379; // 20 + 380 = 400
      return withApache(s, { mpmEvent: {} });
    },
    evidence: { maxRequestWorkers: 400, capacity: 148 },
  },
  {
    code: 'stack.apache-workers-above-children',
    severity: 'info',
    fires: (s) => withApache(s, { mpmEvent: { threadsPerChild: 41, maxRequestWorkers: 41 } }),
    quiet: (s) => withApache(s, { mpmEvent: { threadsPerChild: 40, maxRequestWorkers: 40 } }),
    evidence: { maxRequestWorkers: 41, maxChildren: 20 },
  },
  {
    code: 'stack.post-below-upload',
    severity: 'warning',
    fires: (s) => {
      s.php!.uploadMaxFilesizeBytes = 33 * MiB;
      s.nginx!.clientMaxBodySizeBytes = 33 * MiB;
      s.php!.postMaxSizeBytes = 32 * MiB;
      s.nginx!.clientMaxBodySizeBytes = 32 * MiB;
      return s;
    },
    quiet: (s) => {
      s.php!.uploadMaxFilesizeBytes = 32 * MiB;
      return s;
    },
    evidence: { postMaxSizeBytes: 32 * MiB, uploadMaxFilesizeBytes: 33 * MiB },
  },
  {
    code: 'stack.post-below-upload',
    severity: 'warning',
    // PHP's defaults (8M, 2M) apply under a pool's php_value.
    fires: (s) => {
      delete s.php;
      delete s.nginx;
      pool(s).phpValue = { upload_max_filesize: '10M' };
      return s;
    },
    quiet: (s) => {
      delete s.php;
      delete s.nginx;
      pool(s).phpValue = { upload_max_filesize: '10M', post_max_size: '0' };
      return s;
    },
    evidence: {
      postMaxSizeFrom: 'PHP default',
      uploadMaxFilesizeFrom: 'php_value[upload_max_filesize]',
    },
  },
  {
    code: 'stack.body-limit-below-upload',
    severity: 'warning',
    fires: (s) => {
      delete s.nginx!.clientMaxBodySizeBytes; // nginx's 1m default
      return s;
    },
    quiet: (s) => {
      s.nginx!.clientMaxBodySizeBytes = 16 * MiB;
      return s;
    },
    evidence: { clientMaxBodySizeBytes: MiB, clientMaxBodySizeSet: false },
  },
  {
    code: 'stack.body-limit-above-post',
    severity: 'warning',
    fires: (s) => {
      s.nginx!.clientMaxBodySizeBytes = 'unlimited';
      return s;
    },
    quiet: (s) => {
      s.nginx!.clientMaxBodySizeBytes = 'unlimited';
      s.php!.postMaxSizeBytes = 'unlimited';
      return s;
    },
  },
  {
    code: 'stack.request-buffering-off',
    severity: 'warning',
    fires: (s) => {
      s.nginx!.requestBuffering = false;
      return s;
    },
    quiet: (s) => {
      s.nginx!.requestBuffering = true;
      return s;
    },
  },
  {
    code: 'stack.response-buffering-off',
    severity: 'info',
    fires: (s) => {
      s.nginx!.buffering = false;
      return s;
    },
    quiet: (s) => {
      s.nginx!.buffering = true;
      return s;
    },
  },
  {
    code: 'stack.rlimit-files-above-nr-open',
    severity: 'error',
    fires: (s) => {
      s.kernel.nrOpen = 65535;
      return s;
    },
    quiet: (s) => {
      s.kernel.nrOpen = 65536;
      return s;
    },
    evidence: { rlimitFiles: 65536, nrOpen: 65535, section: 'global' },
  },
  {
    code: 'stack.rlimit-files-above-nr-open',
    severity: 'warning',
    fires: (s) => {
      pool(s).rlimitFiles = 2_000_000;
      s.kernel.limitNofile = 'unlimited';
      return s;
    },
    quiet: (s) => {
      pool(s).rlimitFiles = 1048576;
      s.kernel.limitNofile = 'unlimited';
      return s;
    },
    evidence: { section: 'pool' },
  },
  {
    code: 'stack.rlimit-files-above-limit-nofile',
    severity: 'info',
    fires: (s) => {
      s.kernel.limitNofile = { soft: 1024, hard: 65535 };
      return s;
    },
    quiet: (s) => {
      s.kernel.limitNofile = { soft: 1024, hard: 65536 };
      return s;
    },
    evidence: { limitNofileHard: 65535, masterIsRoot: true },
  },
  {
    code: 'stack.rlimit-files-above-limit-nofile',
    severity: 'error',
    fires: (s) => {
      s.kernel.limitNofile = 4096;
      return s;
    },
    quiet: (s) => {
      s.kernel.limitNofile = 'unlimited';
      return s;
    },
    options: { fpmMasterUser: { name: 'www-data', group: 'www-data' } },
    evidence: { masterIsRoot: false },
  },
  {
    code: 'stack.max-requests-zero',
    severity: 'info',
    fires: (s) => {
      delete pool(s).pm!.maxRequests;
      return s;
    },
    quiet: (s) => {
      pool(s).pm!.maxRequests = 1;
      return s;
    },
    evidence: { maxRequests: 0, set: false },
  },
  {
    code: 'stack.database-connections',
    severity: 'error',
    fires: (s) => {
      s.database = { maxConnections: 39, connectionsPerChild: 2 };
      return s;
    },
    quiet: (s) => {
      s.database = { maxConnections: 40, connectionsPerChild: 2 };
      return s;
    },
    evidence: { connectionsNeeded: 40, maxConnections: 39 },
  },
  {
    code: 'stack.memory-over-budget',
    severity: 'warning',
    // 20 x 128M + OPcache 128M + 8M = 2696M.
    fires: (s) => {
      s.memoryBudgetBytes = 2695 * MiB;
      return s;
    },
    quiet: (s) => {
      s.memoryBudgetBytes = 2696 * MiB;
      return s;
    },
    evidence: { worstCaseBytes: 2696 * MiB, opcacheBytes: 136 * MiB },
  },
  {
    code: 'stack.memory-over-budget',
    severity: 'warning',
    fires: (s) => {
      pool(s).phpAdminValue = { memory_limit: '-1' };
      return s;
    },
    quiet: (s) => {
      pool(s).phpAdminValue = { memory_limit: '64M' };
      s.php!.memoryLimitBytes = 'unlimited';
      return s;
    },
  },
];

describe('checkStack', () => {
  it('finds nothing in a stack where the layers agree (nginx and Apache)', () => {
    expect(checkStack(good())).toEqual([]);
    expect(checkStack(withApache(good()))).toEqual([]);
    const result = checkStack(good());
    expect({ ok: result.ok, findings: result.findings }).toEqual({ ok: true, findings: [] });
    // Still the array it was: ok and findings are not enumerable, so JSON and spreads are as before.
    expect(JSON.stringify(result)).toBe('[]');
    expect(Object.keys(result)).toEqual([]);
  });

  it('has a firing row for every code it can return', () => {
    expect(new Set(rows.map((r) => r.code))).toEqual(new Set(STACK_FINDING_CODES));
  });

  describe.each(rows.map((r, i) => [`${r.code} #${i}`, r] as const))('%s', (_title, row) => {
    it('fires', () => {
      const findings = checkStack(row.fires(good())!, row.options);
      const hit = findings.filter((f) => f.code === row.code);
      expect(hit.length, JSON.stringify(findings, null, 2)).toBeGreaterThan(0);
      const f = hit[0]!;
      expect(findingSchema.parse(f)).toEqual(f);
      expect(f.severity).toBe(row.severity);
      expect(f.directive).toBeTruthy();
      expect(f.fix).toBeTruthy();
      expect(f.evidence).toBeTruthy();
      if (row.evidence) expect(f.evidence).toMatchObject(row.evidence);
      // The one shape of every check: `ok` is false exactly when a finding is an error.
      expect(findings.findings).toEqual([...findings]);
      expect(findings.ok).toBe(!findings.findings.some((x) => x.severity === 'error'));
      if (row.severity === 'error') expect(findings.ok).toBe(false);
    });
    it('stays quiet on the near miss', () => {
      const findings = checkStack(row.quiet(good())!, row.options);
      expect(findings.map((f) => f.code)).not.toContain(row.code);
    });
  });

  it('names the pool on per-pool findings', () => {
    const s = good();
    s.kernel.somaxconn = 128;
    const [f] = checkStack(s);
    expect(f).toMatchObject({ code: 'stack.backlog-above-somaxconn', pool: 'www' });
  });

  it('accepts one pool with its global section', () => {
    const s = good();
    const findings = checkStack({
      ...s,
      fpm: { global: { processControlTimeoutSeconds: 10 }, pool: s.fpm.pools[0]! },
    });
    expect(findings.map((f) => f.code)).toEqual(['stack.process-control-timeout-short']);
  });

  it('applies web-server checks only to the pools the web server feeds', () => {
    const s = good();
    s.fpm.pools.push({
      name: 'admin',
      user: 'admin',
      listen: { address: '/run/php/admin.sock' }, // root-owned, but nginx does not use it
      pm: { mode: 'static', maxChildren: 2, maxRequests: 100 },
      requestTerminateTimeoutSeconds: 300,
    });
    const codes = checkStack(s).map((f) => `${f.code} ${f.pool ?? ''}`);
    expect(codes).toEqual(['stack.process-control-timeout-short admin']);
  });

  it('resolves a relative UNIX listen path before matching the web server', () => {
    const s = good();
    pool(s).listen!.address = 'run/www.sock';
    s.nginx!.upstream.servers = [{ socketPath: '/usr/run/www.sock' }];
    expect(checkStack(s)).toEqual([]);
  });

  it('throws FpmkitInvalidOptionError naming the bad input', () => {
    const s = good();
    s.nginx!.upstream.servers = [];
    expect(() => checkStack(s)).toThrow(/nginx\.upstream\.servers/);
    expect(() => checkStack({ ...good(), kernel: { somaxconn: -1 } })).toThrow(/kernel\.somaxconn/);
    expect(() => checkStack(good(), { timeoutMarginSeconds: -1 })).toThrow(/timeoutMarginSeconds/);
    expect(() => checkStack({ ...good(), memoryBudgetBytes: 0 })).toThrow(/memoryBudgetBytes/);
  });

  it('never throws anything but an FpmkitError, and every finding is well formed (fuzzed)', () => {
    const mode = fc.integer({ min: 0, max: 0o777 });
    const seconds = fc.option(fc.integer({ min: -5, max: 400 }), { nil: undefined });
    const name = fc.constantFrom('www-data', 'nginx', 'root', 'app', '33');
    fc.assert(
      fc.property(
        fc.record({
          mode,
          owner: fc.option(name, { nil: undefined }),
          group: fc.option(name, { nil: undefined }),
          acl: fc.option(fc.array(name, { minLength: 1, maxLength: 2 }), { nil: undefined }),
          terminate: seconds,
          pct: seconds,
          backlog: fc.option(fc.integer({ min: -2, max: 70000 }), { nil: undefined }),
          maxChildren: fc.integer({ min: 1, max: 500 }),
          keepalive: fc.option(fc.integer({ min: 1, max: 100 }), { nil: undefined }),
          read: fc.option(fc.integer({ min: 1, max: 400 }), { nil: undefined }),
          body: fc.option(fc.integer({ min: 1, max: 2 ** 40 }), { nil: undefined }),
          phpValue: fc.dictionary(
            fc.constantFrom(
              'memory_limit',
              'post_max_size',
              'upload_max_filesize',
              'max_execution_time',
            ),
            fc.oneof(fc.string(), fc.constantFrom('-1', '0', '8M', '1G', '30')),
          ),
          somaxconn: fc.option(fc.integer({ min: 0, max: 70000 }), { nil: undefined }),
          budget: fc.option(fc.integer({ min: 1, max: 2 ** 40 }), { nil: undefined }),
        }),
        (r) => {
          const s = good();
          const p = pool(s);
          p.listen = { address: SOCKET, mode: r.mode };
          if (r.owner) p.listen.owner = r.owner;
          if (r.group) p.listen.group = r.group;
          if (r.acl) p.listen.aclUsers = r.acl;
          if (r.backlog !== undefined) p.listen.backlog = r.backlog;
          p.pm = { mode: 'static', maxChildren: r.maxChildren };
          p.phpValue = r.phpValue;
          if (r.terminate === undefined) delete p.requestTerminateTimeoutSeconds;
          else p.requestTerminateTimeoutSeconds = r.terminate;
          if (r.pct === undefined) delete s.fpm.global.processControlTimeoutSeconds;
          else s.fpm.global.processControlTimeoutSeconds = r.pct;
          if (r.keepalive === undefined) delete s.nginx!.upstream.keepalive;
          else s.nginx!.upstream.keepalive = r.keepalive;
          if (r.read !== undefined) s.nginx!.readTimeoutSeconds = r.read;
          if (r.body !== undefined) s.nginx!.clientMaxBodySizeBytes = r.body;
          if (r.somaxconn === undefined) delete s.kernel.somaxconn;
          else s.kernel.somaxconn = r.somaxconn;
          if (r.budget === undefined) delete s.memoryBudgetBytes;
          else s.memoryBudgetBytes = r.budget;
          try {
            for (const input of [s, withApache(s, { enableReuse: true })]) {
              for (const f of checkStack(input)) {
                expect(findingSchema.parse(f)).toEqual(f);
                expect(STACK_FINDING_CODES).toContain(f.code);
                expect(f.fix).toBeTruthy();
              }
            }
          } catch (error) {
            if (!isFpmkitError(error)) throw error;
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('takes any string in any string field without a TypeError (fuzzed)', () => {
    let checked = 0;
    let refused = 0;
    fc.assert(
      fc.property(
        fc.record({
          poolName: fc.string(),
          address: fc.string(),
          owner: fc.string(),
          acl: fc.array(fc.string(), { maxLength: 2 }),
          statusPath: fc.string(),
          statusListen: fc.string(),
          phpValue: fc.dictionary(fc.string(), fc.string()),
          user: fc.string(),
          groups: fc.array(fc.string(), { maxLength: 3 }),
          locationRegex: fc.string(),
          filesMatch: fc.string(),
          host: fc.string(),
        }),
        (r) => {
          const s = good();
          const p = pool(s);
          p.name = r.poolName;
          p.listen = { address: r.address, owner: r.owner, mode: 0o660 };
          if (r.acl.length > 0) p.listen.aclGroups = r.acl;
          p.pm!.statusPath = r.statusPath;
          p.pm!.statusListen = r.statusListen;
          p.phpAdminValue = r.phpValue;
          s.webServerUser = { name: r.user, groups: r.groups };
          s.nginx!.tryFilesGuard = false;
          delete s.nginx!.status;
          const regex = structuredClone(s);
          regex.nginx!.locationRegex = r.locationRegex;
          for (const input of [
            s,
            regex,
            withApache(s, { filesMatch: r.filesMatch, requireExistingFile: false }),
            withApache(s, { backend: { host: r.host, port: 9000 } }),
          ]) {
            try {
              for (const f of checkStack(input)) expect(findingSchema.parse(f)).toEqual(f);
              checked++;
            } catch (error) {
              if (!isFpmkitError(error)) throw error;
              refused++;
            }
          }
        },
      ),
      { numRuns: 300 },
    );
    // Many inputs pass the schemas and reach the checks (empty user names and invalid regexes
    // are refused with FpmkitInvalidOptionError).
    expect(checked).toBeGreaterThan(300);
    expect(refused).toBeGreaterThan(0);
  });
});
