import { isIP } from 'node:net';
import { FpmkitInvalidOptionError } from '../errors.js';

/**
 * The longest UNIX socket path the kernel binds: `sun_path` holds 108 bytes including the
 * terminating NUL (`include/uapi/linux/un.h`, `UNIX_PATH_MAX`). FPM 8.2 copies a longer path
 * with `strlcpy` and binds the truncated name; Node's `connect` truncates too, so a longer path
 * would reach whatever socket sits at the cut.
 */
export const MAX_UNIX_SOCKET_PATH_BYTES = 107;

/** Where a pool listens, as FPM reads its `listen` directive. */
export type ListenAddress = UnixListenAddress | TcpListenAddress;

/** A UNIX socket path. */
export interface UnixListenAddress {
  kind: 'unix';
  /** Absolute when it was written absolute or a `prefix` was given; relative otherwise. */
  path: string;
  /** True when the path is still relative (no prefix was known to resolve it against). */
  relative: boolean;
}

/** A TCP address. */
export interface TcpListenAddress {
  kind: 'tcp';
  /**
   * The host as FPM hands it to `getaddrinfo` (brackets removed), or `undefined` for a bare port,
   * which FPM binds on `::` (IPv6 and mapped IPv4) and, failing that, on `0.0.0.0`.
   */
  host: string | undefined;
  /** Port, 1 to 65535. */
  port: number;
  /**
   * `ipv4` or `ipv6` for an address literal, `name` for a host name that FPM resolves (and binds
   * the first address of only), `any` for a bare port.
   */
  family: 'ipv4' | 'ipv6' | 'name' | 'any';
  /** True when the socket takes connections on every local address (bare port, `0.0.0.0`, `::`). */
  wildcard: boolean;
}

/** Options of `parseListen`. */
export interface ParseListenOptions {
  /**
   * The directory a relative UNIX path is resolved against: the pool's `prefix`, else the global
   * `prefix` (`php-fpm -p`), else FPM's compiled-in prefix. @default none (the path stays relative)
   */
  prefix?: string | undefined;
  /** The option path named in errors. @default 'listen' */
  option?: string | undefined;
}

function refuse(option: string, rule: string): never {
  throw new FpmkitInvalidOptionError(option, rule);
}

function parsePort(text: string, value: string, option: string): number {
  // FPM takes atoi() of the text after the last ':' and then hands the text to getaddrinfo as
  // a numeric service: leading blanks pass, anything after the digits fails.
  if (!/^[ \t]*\d+$/.test(text)) {
    refuse(option, `'${value}': the port '${text}' is not a number`);
  }
  const port = Number(text.trim());
  if (port < 1 || port > 65535) {
    refuse(option, `'${value}': invalid port value '${text}' (FPM accepts 1 to 65535)`);
  }
  return port;
}

function tcpAddress(host: string, port: number, value: string, option: string): TcpListenAddress {
  if (host === '') refuse(option, `'${value}': the host before ':' is empty`);
  const version = isIP(host);
  if (version === 4)
    return { kind: 'tcp', host, port, family: 'ipv4', wildcard: host === '0.0.0.0' };
  if (version === 6) {
    const wildcard = /^[0:]+$/.test(host);
    return { kind: 'tcp', host, port, family: 'ipv6', wildcard };
  }
  const aton = inetAton(host);
  if (aton !== undefined) return { kind: 'tcp', host, port, family: 'ipv4', wildcard: aton === 0 };
  // Anything else goes to getaddrinfo as a name. `*` is not a wildcard to FPM: it is looked up
  // like any other name (seen binding loopback only).
  if (/[\s\0/]/.test(host)) refuse(option, `'${value}': '${host}' is not a host name`);
  return { kind: 'tcp', host, port, family: 'name', wildcard: false };
}

/**
 * The IPv4 forms glibc's `inet_aton` accepts and `getaddrinfo` therefore binds without a lookup:
 * one to four parts, each decimal, octal (leading 0) or hex (0x), the last filling the bytes
 * left (`0` is 0.0.0.0, `127.1` is 127.0.0.1). Undefined when the text is not one of them.
 */
function inetAton(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length > 4) return undefined;
  const values: number[] = [];
  for (const part of parts) {
    let value: number;
    if (/^0[xX][0-9a-fA-F]*$/.test(part))
      value = part.length === 2 ? 0 : Number.parseInt(part.slice(2), 16);
    else if (/^0[0-7]*$/.test(part))
      value = part.length === 1 ? 0 : Number.parseInt(part.slice(1), 8);
    else if (/^[1-9]\d*$/.test(part)) value = Number(part);
    else return undefined;
    values.push(value);
  }
  const last = values.pop() ?? 0;
  if (values.some((v) => v > 255) || last >= 2 ** (8 * (4 - values.length))) return undefined;
  return values.reduce((sum, v, i) => sum + v * 2 ** (8 * (3 - i)), 0) + last;
}

function utf8Length(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/**
 * Refuses a UNIX socket path the kernel cannot hold: longer than `MAX_UNIX_SOCKET_PATH_BYTES`
 * bytes (UTF-8), where `bind` and Node's `connect` would silently use the first 107 bytes and
 * reach whatever socket sits there. Throws `FpmkitInvalidOptionError` naming `option` and the limit.
 */
export function assertUnixSocketPath(path: string, option: string): void {
  const bytes = utf8Length(path);
  if (bytes > MAX_UNIX_SOCKET_PATH_BYTES) {
    refuse(
      option,
      `the UNIX socket path '${path}' is ${bytes} bytes; the kernel's sun_path holds at most ${MAX_UNIX_SOCKET_PATH_BYTES} bytes plus NUL, and a longer path is cut`,
    );
  }
}

/**
 * Reads a `listen` value exactly as FPM 8.2 does (`fpm_sockets_domain_from_address` and
 * `fpm_socket_af_inet_listening_socket` in `sapi/fpm/fpm/fpm_sockets.c`): a value holding `:`
 * is TCP (`host:port`, `[ipv6]:port`, split at the last `:`); a value of digits only is a port
 * on every address; anything else is a UNIX path, resolved against `prefix` when relative.
 * There is no `unix:` scheme: FPM reads `unix:/run/x.sock` as host `unix` and refuses the port.
 *
 * Throws `FpmkitInvalidOptionError` (option `listen`) for an empty value, a bad port, a NUL, or
 * a UNIX path longer than `MAX_UNIX_SOCKET_PATH_BYTES`.
 *
 * @example parseListen('/run/php/php8.2-fpm.sock') // { kind: 'unix', path: '/run/php/php8.2-fpm.sock', relative: false }
 * @example parseListen('9000') // { kind: 'tcp', host: undefined, port: 9000, family: 'any', wildcard: true }
 * @example parseListen('run/www.sock', { prefix: '/srv/fpm' }) // { kind: 'unix', path: '/srv/fpm/run/www.sock', relative: false }
 */
export function parseListen(value: string, options: ParseListenOptions = {}): ListenAddress {
  const option = options.option ?? 'listen';
  if (typeof value !== 'string') refuse(option, 'expected a string');
  if (value === '') refuse(option, 'no listen address is defined (FPM refuses an empty listen)');
  if (value.includes('\0')) refuse(option, 'a listen address must not contain NUL');
  const colon = value.lastIndexOf(':');
  if (colon >= 0) {
    let host = value.slice(0, colon);
    if (host.length >= 2 && host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
    return tcpAddress(host, parsePort(value.slice(colon + 1), value, option), value, option);
  }
  if (/^\d+$/.test(value)) {
    return {
      kind: 'tcp',
      host: undefined,
      port: parsePort(value, value, option),
      family: 'any',
      wildcard: true,
    };
  }
  let path = value;
  let relative = !value.startsWith('/');
  if (relative && options.prefix !== undefined && options.prefix !== '') {
    path = `${options.prefix.replace(/\/+$/, '')}/${value}`;
    relative = !path.startsWith('/');
  }
  assertUnixSocketPath(path, option);
  return { kind: 'unix', path, relative };
}

/** Writes a listen address back as FPM's `listen` value (`[::1]:9000`, `9000`, `/run/x.sock`). */
export function formatListen(address: ListenAddress): string {
  if (address.kind === 'unix') return address.path;
  if (address.host === undefined) return String(address.port);
  return address.family === 'ipv6'
    ? `[${address.host}]:${address.port}`
    : `${address.host}:${address.port}`;
}

/**
 * Where a client on this host connects to reach the address: the socket path, or the host and
 * port, with a wildcard replaced by the loopback address of its family (a bare port and `::`
 * accept IPv4 through mapped addresses, so `127.0.0.1` reaches them). A host name, `*` included,
 * is returned as written, for the client to resolve as FPM did.
 */
export function listenConnectTarget(
  address: ListenAddress,
): { socketPath: string } | { host: string; port: number } {
  if (address.kind === 'unix') return { socketPath: address.path };
  if (address.wildcard) {
    return { host: address.family === 'ipv6' ? '::1' : '127.0.0.1', port: address.port };
  }
  return { host: address.host ?? '127.0.0.1', port: address.port };
}

/**
 * @deprecated Use {@link assertUnixSocketPath}: it returns nothing and throws, like the other
 * `assert*` functions, while `check*` functions return findings.
 */
export const checkUnixSocketPath = assertUnixSocketPath;
