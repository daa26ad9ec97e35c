/**
 * What Debian's `apache2ctl` adds to the configuration files: the environment it exports from
 * `/etc/apache2/envvars` (the `${APACHE_RUN_USER}` ... that apache2.conf uses), and the output
 * of `apache2ctl -M` (loaded modules) and `apache2ctl -S` (virtual hosts, user, group).
 *
 * Sample `apache2ctl -M` and `-S` lines:
 *
 * ```
 *  proxy_fcgi_module (shared)
 * *:80                   localhost (/etc/apache2/sites-enabled/000-default.conf:1)
 * User: name="www-data" id=33
 * ```
 */
import { FpmkitParseError } from '../errors.js';

/**
 * Reads the `export NAME=value` lines of Debian's envvars file. Shell expansion is limited to
 * what that file uses: `$NAME` and `${NAME}` of variables set before (unknown ones are empty,
 * as `SUFFIX` is for the default instance) and single or double quotes around the value.
 */
export function parseApacheEnvvars(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const m = /^\s*export\s+([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(raw);
    if (!m) continue;
    let value = m[2]!.trim();
    if (/^'.*'$/.test(value)) {
      out[m[1]!] = value.slice(1, -1);
      continue;
    }
    if (/^".*"$/.test(value)) value = value.slice(1, -1);
    out[m[1]!] = value.replace(
      /\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g,
      (_all, name: string) => out[name] ?? '',
    );
  }
  return out;
}

/** One line of `apache2ctl -M`. */
export interface ApacheLoadedModule {
  /** The module identifier, e.g. `proxy_fcgi_module`. */
  name: string;
  /** Built into the binary, or loaded with LoadModule. */
  kind: 'static' | 'shared';
}

/** Reads `apache2ctl -M` (or `apache2 -M`): every module with whether it is built in. */
export function parseApacheCtlModules(text: string): ApacheLoadedModule[] {
  const out: ApacheLoadedModule[] = [];
  let seen = false;
  for (const [i, line] of text.split('\n').entries()) {
    if (line.startsWith('Loaded Modules:')) {
      seen = true;
      continue;
    }
    const m = /^\s+(\w+)\s+\((static|shared)\)\s*$/.exec(line);
    if (m) out.push({ name: m[1]!, kind: m[2] as 'static' | 'shared' });
    else if (seen && line.trim() !== '' && /^\s/.test(line)) {
      throw new FpmkitParseError('not a module line', {
        source: 'apache2ctl -M',
        line: i + 1,
        lineText: line,
      });
    }
  }
  if (!seen) throw new FpmkitParseError('no "Loaded Modules:" line', { source: 'apache2ctl -M' });
  return out;
}

/** What `apache2ctl -S` says. */
export interface ApacheCtlSummary {
  /** Each virtual host: its address, name and where it is defined. */
  virtualHosts: { address: string; name: string; file: string; line: number; default: boolean }[];
  /** `ServerRoot: "..."`. */
  serverRoot?: string;
  /** `User: name="..." id=N`: the account the children run as. */
  user?: { name: string; id: number };
  /** `Group: name="..." id=N`. */
  group?: { name: string; id: number };
  /** The `Define: NAME` lines (including those -S itself adds, DUMP_VHOSTS and DUMP_RUN_CFG). */
  defines: string[];
}

/** Reads `apache2ctl -S` (or `apache2 -S`). */
export function parseApacheCtlVhosts(text: string): ApacheCtlSummary {
  const out: ApacheCtlSummary = { virtualHosts: [], defines: [] };
  let address = '';
  // The `default server` line repeats the first name-based host of its address.
  let defaultAt = '';
  for (const line of text.split('\n')) {
    // `*:80                   localhost (/etc/apache2/sites-enabled/000-default.conf:1)`
    const single = /^(\S+:\d+|\S+)\s+(?:is a NameVirtualHost\s*)?(\S+) \((.+):(\d+)\)\s*$/.exec(
      line,
    );
    const header = /^(\S+)\s+is a NameVirtualHost\s*$/.exec(line);
    const entry =
      /^\s+(default server|port \d+ namevhost|alias)\s+(\S+)(?: \((.+):(\d+)\))?\s*$/.exec(line);
    if (header) address = header[1]!;
    else if (entry && entry[1] === 'default server') defaultAt = `${entry[3]}:${entry[4]}`;
    else if (entry && entry[3] !== undefined) {
      out.virtualHosts.push({
        address,
        name: entry[2]!,
        file: entry[3],
        line: Number(entry[4]),
        default: defaultAt === `${entry[3]}:${entry[4]}`,
      });
      defaultAt = '';
    } else if (single) {
      out.virtualHosts.push({
        address: single[1]!,
        name: single[2]!,
        file: single[3]!,
        line: Number(single[4]),
        default: true,
      });
    }
    const root = /^ServerRoot: "(.*)"$/.exec(line);
    if (root) out.serverRoot = root[1]!;
    const who = /^(User|Group): name="(.*)" id=(\d+)/.exec(line);
    if (who) out[who[1] === 'User' ? 'user' : 'group'] = { name: who[2]!, id: Number(who[3]) };
    const define = /^Define: (\S+)/.exec(line);
    if (define) out.defines.push(define[1]!);
  }
  return out;
}
