/**
 * Shared building blocks of the web-server and php.ini models: zod strings that refuse
 * characters able to end a value, a directive or a block in the target syntax, and the bridge
 * from a zod issue to `FpmkitInvalidOptionError`.
 */

import { z } from 'zod';
import { optionPath, parseOptions } from '../options.js';
import { describeChar, unsafeTextReason } from '../text-safety.js';

/**
 * The first reason `value` cannot be written as it is: a lone surrogate (UTF-8 has no form for
 * it, so it would be written as U+FFFD, another value), or a control or line-separator character.
 * Undefined when there is none.
 */
export function unwritableChar(value: string): string | undefined {
  return unsafeTextReason(value);
}

/**
 * A non-empty string without lone surrogates, control or line-separator characters, nor any of
 * `forbidden`. `what` names the syntax in the rule text ("nginx", "Apache", "php.ini");
 * `reasons` gives the rule text for some forbidden characters, by character.
 */
export function safeString(
  what: string,
  forbidden: string,
  reasons: Readonly<Record<string, string>> = {},
): z.ZodString {
  return z
    .string()
    .min(1, 'must not be empty')
    .superRefine((value, ctx) => {
      const unwritable = unwritableChar(value);
      if (unwritable !== undefined) {
        ctx.addIssue({ code: 'custom', message: unwritable });
        return;
      }
      for (const ch of value) {
        if (forbidden.includes(ch)) {
          ctx.addIssue({
            code: 'custom',
            message: `must not contain ${describeChar(ch)} (${reasons[ch] ?? `it could end the value or add a line to the ${what} configuration`})`,
          });
          return;
        }
      }
    });
}

/** Formats a zod issue path as `a.b[0].c`; `(settings)` for the empty path. */
export function formatPath(path: readonly PropertyKey[]): string {
  return optionPath(path);
}

/**
 * Parses `input` with `schema`; on failure throws `FpmkitInvalidOptionError` for the first
 * issue, naming its dotted path (prefixed by `root` when given).
 */
export function parseSettings<S extends z.ZodType>(
  schema: S,
  input: unknown,
  root?: string,
): z.infer<S> {
  return parseOptions<z.infer<S>>(schema, input, root);
}

/** A whole number of seconds, at least `min`. */
export function seconds(min = 0): z.ZodNumber {
  return z.number().int('must be whole seconds').min(min);
}

/** A whole number of bytes, at least `min`. */
export function bytes(min = 0): z.ZodNumber {
  return z.number().int('must be whole bytes').min(min).max(Number.MAX_SAFE_INTEGER);
}

/** A TCP port. */
export const portSchema = z.number().int().min(1).max(65535);

/** An IPv4 address, optionally with a `/prefix`. */
const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** True for an IPv4 or IPv6 address (no brackets, no zone). */
export function isIpAddress(text: string): boolean {
  if (IPV4.test(text)) return true;
  if (!/^[0-9A-Fa-f:.]+$/.test(text) || !text.includes(':')) return false;
  // A trailing dotted quad stands for the last two groups.
  let groups = text;
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  if (tail.includes('.')) {
    if (!IPV4.test(tail)) return false;
    groups = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const halves = groups.split('::');
  if (halves.length > 2) return false;
  const parts = halves.flatMap((h) => (h === '' ? [] : h.split(':')));
  if (parts.some((p) => !/^[0-9A-Fa-f]{1,4}$/.test(p))) return false;
  return halves.length === 2 ? parts.length <= 7 : parts.length === 8;
}

/** True for an address or an address with a CIDR prefix (`10.0.0.0/8`, `fd00::/8`). */
export function isIpOrCidr(text: string): boolean {
  const slash = text.indexOf('/');
  if (slash === -1) return isIpAddress(text);
  const address = text.slice(0, slash);
  const prefix = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(prefix) || !isIpAddress(address)) return false;
  return Number(prefix) <= (address.includes(':') ? 128 : 32);
}

/** A host name (RFC 1123 labels) or an IP address, as written in `host:port`. */
export const hostSchema = z
  .string()
  .refine(
    (h) =>
      isIpAddress(h) ||
      /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/.test(
        h,
      ),
    'must be a host name or an IP address without brackets',
  );

/** `host:port`, with brackets around an IPv6 address. */
export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Longest UNIX socket path the kernel binds (`sun_path` is 108 bytes with the final NUL). */
export const UNIX_PATH_MAX_BYTES = 107;
