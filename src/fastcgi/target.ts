import { isIP } from 'node:net';
import { FpmkitInvalidOptionError } from '../errors.js';
import { assertUnixSocketPath, listenConnectTarget, parseListen } from '../fpm/listen.js';

/**
 * Where a FastCGI server listens, in any of the forms FPM's `listen` and web servers use:
 * `'unix:/run/php/php8.2-fpm.sock'`, `'/run/php/php8.2-fpm.sock'`, `'127.0.0.1:9000'`,
 * `'[::1]:9000'`, `'tcp://host:port'`, or `{ socketPath }` / `{ host, port }`.
 */
export type FastCGITarget = string | { socketPath: string } | { host: string; port: number };

/** A target resolved to what `net.connect` needs, plus a label used in error messages. */
export type ParsedTarget =
  | { type: 'unix'; socketPath: string; label: string }
  | { type: 'tcp'; host: string; port: number; label: string };

function invalid(rule: string): never {
  throw new FpmkitInvalidOptionError('target', rule);
}

function checkPort(text: string | number): number {
  const port = typeof text === 'number' ? text : /^\d{1,5}$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    invalid(`port must be an integer from 1 to 65535, got '${text}'`);
  }
  return port;
}

function tcp(host: string, port: number): ParsedTarget {
  if (host === '') invalid('host must not be empty');
  const label = isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
  return { type: 'tcp', host, port, label };
}

function unix(socketPath: string): ParsedTarget {
  if (socketPath === '') invalid('socket path must not be empty');
  if (socketPath.includes('\0')) invalid('socket path must not contain NUL');
  assertUnixSocketPath(socketPath, 'target');
  return { type: 'unix', socketPath, label: `unix:${socketPath}` };
}

/**
 * A `host:port`, `[ipv6]:port` or bare port in FPM's own `listen` syntax, read by `parseListen`
 * after the checks that only a client makes (brackets around IPv6, a numeric port); a wildcard
 * is reached on the loopback address of its family.
 */
function fromListen(text: string): ParsedTarget {
  const address = parseListen(text, { option: 'target' });
  const reach = listenConnectTarget(address);
  return 'socketPath' in reach ? unix(reach.socketPath) : tcp(reach.host, reach.port);
}

function hostPort(text: string, original: string): ParsedTarget {
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0 || text[close + 1] !== ':') invalid(`expected [ipv6]:port, got '${original}'`);
    const host = text.slice(1, close);
    if (isIP(host) !== 6) invalid(`'${host}' is not an IPv6 address`);
    checkPort(text.slice(close + 2));
    return fromListen(text);
  }
  const colon = text.lastIndexOf(':');
  if (colon < 0) {
    // FPM's `listen = 9000` means every address; the local one is what a client reaches.
    if (/^\d+$/.test(text)) {
      checkPort(text);
      return fromListen(text);
    }
    invalid(`expected a socket path, host:port or [ipv6]:port, got '${original}'`);
  }
  const host = text.slice(0, colon);
  if (host.includes(':'))
    invalid(`IPv6 addresses need brackets, e.g. [::1]:9000; got '${original}'`);
  if (host === '') invalid('host must not be empty');
  checkPort(text.slice(colon + 1));
  return fromListen(text);
}

/**
 * Parses a FastCGI target. The forms FPM's `listen` also takes (`/path`, `host:port`,
 * `[ipv6]:port`, a bare port) mean what `parseListen` says they mean, and a wildcard address is
 * reached on loopback; `unix:PATH`, `tcp://host:port`, `./path` and the object forms are client
 * syntax only. Throws `FpmkitInvalidOptionError` (option `target`) for anything that is neither
 * a socket path nor a host and port, and for a socket path longer than
 * `MAX_UNIX_SOCKET_PATH_BYTES` (the kernel would cut it and connect elsewhere).
 *
 * @example parseTarget('unix:/run/php/fpm.sock') // { type: 'unix', socketPath: '/run/php/fpm.sock', ... }
 * @example parseTarget('[::1]:9000') // { type: 'tcp', host: '::1', port: 9000, label: '[::1]:9000' }
 */
export function parseTarget(target: FastCGITarget): ParsedTarget {
  if (typeof target === 'object' && target !== null) {
    if ('socketPath' in target && typeof target.socketPath === 'string') {
      return unix(target.socketPath);
    }
    if ('host' in target && typeof target.host === 'string') {
      const host = target.host.startsWith('[') ? target.host.slice(1, -1) : target.host;
      return tcp(host, checkPort(target.port));
    }
    invalid('expected { socketPath } or { host, port }');
  }
  if (typeof target !== 'string') invalid('expected a string or { socketPath } | { host, port }');
  const text = target.trim();
  if (text.startsWith('unix:')) return unix(text.slice('unix:'.length).replace(/^\/\/(?=\/)/, ''));
  if (text.startsWith('/') || text.startsWith('./') || text.startsWith('../')) return unix(text);
  if (text.startsWith('tcp://'))
    return hostPort(text.slice('tcp://'.length).replace(/\/$/, ''), target);
  return hostPort(text, target);
}
