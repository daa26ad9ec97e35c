/**
 * `checkStack` over the real stack: each FPM master's configuration against every nginx
 * `fastcgi_pass` and Apache handler found on the host that sends requests to one of its pools,
 * with the account the web server's workers really run as. Each cross-layer finding cites both
 * sides: the FPM directive's file and line (the finding's `file`/`line` and
 * `evidence.fpmConfig`) and the web server's (`evidence.webConfig`).
 */
import type { Finding } from '../../findings.js';
import type { FindingCode } from '../../findings-catalog.js';
import type { KernelSettings } from '../../kernel/settings.js';
import type { ApacheFcgiHandler } from '../../web/apache-config-extract.js';
import type { NginxFastCGIPass, NginxSourceRef } from '../../web/nginx-config-extract.js';
import { type CheckStackOptions, checkStack, poolsFedBy, type StackInput } from '../check-stack.js';
import type { SnapshotMaster, SnapshotWebServer } from '../snapshot.js';
import type { LiveContext } from './context.js';

type Ref = { file: string; line: number };
/** Findings about the socket file, whose web-server side is the workers' `user` line. */
const SOCKET_CODES: ReadonlySet<string> = new Set([
  'stack.socket-not-writable',
  'stack.socket-world-writable',
]);
const at = (r: Ref | undefined) => (r === undefined ? undefined : `${r.file}:${r.line}`);

/** The FPM directives to cite for a finding, most specific first. */
function fpmDirectives(f: Finding): string[] {
  const out: string[] = [];
  const by = f.evidence?.longestRequestBy;
  if (typeof by === 'string') out.push(by === 'max_execution_time' ? 'php_admin_value' : by);
  if (f.directive) out.push(f.directive);
  if (SOCKET_CODES.has(f.code))
    out.push('listen.owner', 'listen.group', 'listen.mode', 'listen.acl_users');
  out.push('listen');
  return out;
}

/** Where the FPM side of a finding is set: the pool's directive, else its `listen` line. */
function fpmSide(master: SnapshotMaster, f: Finding): Ref | undefined {
  const locations = master.configLocations;
  if (!locations || !master.config.ok) return undefined;
  const index = master.config.value.pools.findIndex((p) => p.name === f.pool);
  const map = index < 0 ? locations.global : locations.pools[index];
  for (const name of fpmDirectives(f)) {
    const hit = map?.[name];
    if (hit) return hit;
  }
  return undefined;
}

/** Where nginx sets what a finding is about; the `fastcgi_pass` line when nginx's default applies. */
function nginxSide(server: SnapshotWebServer, pass: NginxFastCGIPass, f: Finding): NginxSourceRef {
  const e = pass.effective;
  const byDirective: Record<string, NginxSourceRef | undefined> = {
    fastcgi_read_timeout: e.readTimeoutMs.source,
    client_max_body_size: e.clientMaxBodySizeBytes.source,
    fastcgi_request_buffering: e.requestBuffering.source,
    fastcgi_buffering: e.buffering.source,
    fastcgi_keep_conn: e.keepConn.source,
    keepalive: pass.upstream?.keepalive?.source,
    keepalive_timeout: pass.upstream?.keepaliveTimeoutMs.source,
  };
  const webDirective =
    f.code === 'stack.web-timeout-below-request' ? 'fastcgi_read_timeout' : f.directive;
  const direct = webDirective === undefined ? undefined : byDirective[webDirective];
  if (direct) return direct;
  if (SOCKET_CODES.has(f.code)) return server.nginx?.user?.source ?? pass.source;
  return pass.source;
}

/** Where Apache sets what a finding is about; the handler's line otherwise. */
function apacheSide(server: SnapshotWebServer, handler: ApacheFcgiHandler, f: Finding): Ref {
  if (f.code === 'stack.web-timeout-below-request')
    return handler.timeoutMs.source ?? handler.source;
  if (SOCKET_CODES.has(f.code)) return server.apache?.user?.source ?? handler.source;
  if (f.directive === 'MaxRequestWorkers')
    return server.apache?.mpm.limits.MaxRequestWorkers?.source ?? handler.source;
  return handler.source;
}

const keyOf = (f: Finding) => `${f.code}\u0000${f.pool ?? ''}\u0000${f.message}`;

/** The FPM side's file and line on a finding that has none. */
export function citeFpm(master: SnapshotMaster, f: Finding<FindingCode>): Finding<FindingCode> {
  if (f.file !== undefined) return f;
  const ref = fpmSide(master, f);
  return ref ? { ...f, file: ref.file, line: ref.line } : f;
}

/** One web-server front: a pass or a handler, the model checkStack reads, and its citation. */
interface Front {
  server: SnapshotWebServer;
  input: Pick<StackInput, 'nginx' | 'apache'>;
  backends: readonly ({ socketPath: string } | { host: string; port: number })[];
  cite(f: Finding): Ref;
  where: Ref;
}

function frontsOf(server: SnapshotWebServer): Front[] {
  const out: Front[] = [];
  for (const pass of server.nginx?.passes ?? []) {
    if (!pass.model) continue;
    out.push({
      server,
      input: { nginx: pass.model },
      backends: pass.backends,
      cite: (f) => nginxSide(server, pass, f),
      where: pass.source,
    });
  }
  for (const handler of server.apache?.handlers ?? []) {
    if (!handler.model || !handler.backend) continue;
    out.push({
      server,
      input: { apache: handler.model },
      backends: [handler.model.backend],
      cite: (f) => apacheSide(server, handler, f),
      where: handler.source,
    });
  }
  return out;
}

/**
 * The cross-layer findings between `master` and the web servers in front of it: what
 * `checkStack` finds with a web server's settings that it does not find without them
 * (`base`), once per finding, each citing both files.
 */
export function webStackFindings(
  ctx: LiveContext,
  master: SnapshotMaster,
  kernel: KernelSettings,
  base: readonly Finding[],
): Finding<FindingCode>[] {
  const servers = ctx.snapshot.webServers;
  if (servers === undefined || !servers.ok || !master.config.ok) return [];
  const fpm = master.config.value;
  const seen = new Set(base.map(keyOf));
  const out: Finding<FindingCode>[] = [];
  for (const server of servers.value) {
    const name = server.kind === 'nginx' ? 'nginx' : 'Apache';
    for (const front of frontsOf(server)) {
      if (poolsFedBy(fpm, front.backends).length === 0) continue;
      const options: CheckStackOptions = {
        ...(master.user ? { fpmMasterUser: master.user } : {}),
        ...(server.workerPids.length > 0
          ? { nginxAutoWorkerProcesses: server.workerPids.length }
          : {}),
      };
      let found: Finding<FindingCode>[];
      try {
        found = checkStack(
          {
            fpm,
            kernel,
            ...front.input,
            ...(server.workerUser
              ? {
                  webServerUser: { name: server.workerUser.name, groups: server.workerUser.groups },
                }
              : {}),
          },
          options,
        );
      } catch (error) {
        ctx.missing.push({
          part: `checkStack(${master.configPath}, ${name} ${at(front.where)})`,
          reason: (error as Error)?.message ?? String(error),
        });
        continue;
      }
      for (const f of found) {
        const key = keyOf(f);
        if (seen.has(key)) continue;
        seen.add(key);
        const fpmRef = fpmSide(master, f);
        const webRef = front.cite(f);
        out.push({
          ...f,
          ...(fpmRef ? { file: fpmRef.file, line: fpmRef.line } : {}),
          evidence: {
            ...f.evidence,
            ...(fpmRef ? { fpmConfig: at(fpmRef) } : {}),
            webConfig: at(webRef),
            webServerPid: server.pid,
            ...(server.workerUser ? { webServerUser: server.workerUser.name } : {}),
          },
        });
      }
    }
  }
  return out;
}

/** Web servers whose configuration could not be read, as missing parts of the report. */
export function unreadWebServers(ctx: LiveContext): void {
  const servers = ctx.snapshot.webServers;
  if (servers === undefined) return;
  if (!servers.ok) {
    ctx.missing.push({ part: 'web servers', reason: servers.reason });
    return;
  }
  for (const s of servers.value) {
    if (s.configError === undefined) continue;
    ctx.missing.push({
      part: `${s.kind} ${s.pid}: configuration${s.configPath ? ` ${s.configPath}` : ''}`,
      reason: s.configError,
    });
  }
}
