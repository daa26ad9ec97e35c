import { join } from 'node:path';
import {
  KERNEL_SYSCTLS,
  type KernelSettings,
  kernelSettingsFromSysctl,
  parseTransparentHugePages,
} from '../kernel/settings.js';
import { type ReadOptions, readTextIfExists, roots } from './io.js';

/** `net.ipv4.conf.eth0/100.rp_filter` → `net/ipv4/conf/eth0.100/rp_filter` (dots and slashes swap). */
function sysctlPath(key: string): string {
  return key.replace(/[./]/g, (c) => (c === '.' ? '/' : '.'));
}

/**
 * Reads sysctls from `{procRoot}/sys/...`, as `sysctl -n` would: a record of the keys that
 * exist, each value with its trailing newline removed (tabs between numbers kept, as in
 * `net.ipv4.ip_local_port_range`). Keys that do not exist on this kernel are left out.
 */
export async function readSysctl(
  keys: readonly string[],
  options: ReadOptions = {},
): Promise<Record<string, string>> {
  const { procRoot } = roots(options);
  const out: Record<string, string> = {};
  for (const key of keys) {
    if (key.includes('..') || key.startsWith('.') || key.startsWith('/')) continue;
    const text = await readTextIfExists(join(procRoot, 'sys', sysctlPath(key)));
    if (text !== undefined) {
      Object.defineProperty(out, key, {
        value: text.replace(/\n$/, ''),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
  }
  return out;
}

/**
 * The host's current `KernelSettings`: every modelled sysctl plus the transparent huge pages
 * mode from `{sysRoot}/kernel/mm/transparent_hugepage/enabled`. Service limits are not host
 * settings and stay absent.
 */
export async function readKernelSettings(options: ReadOptions = {}): Promise<KernelSettings> {
  const { sysRoot } = roots(options);
  const values = await readSysctl(
    Object.values(KERNEL_SYSCTLS).map((s) => s.key),
    options,
  );
  const settings = kernelSettingsFromSysctl(values);
  const thp = await readTextIfExists(
    join(sysRoot, 'kernel', 'mm', 'transparent_hugepage', 'enabled'),
  );
  if (thp !== undefined) settings.transparentHugePages = parseTransparentHugePages(thp);
  return settings;
}
