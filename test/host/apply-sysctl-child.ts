// Run inside `unshare -n`: applies argv[3] (JSON edits) to the sysctl.d file argv[2], reading
// the keys back from argv[4] when given, and prints the result (or the error's code and fields)
// with the namespace's somaxconn as JSON.
import { readFileSync, readlinkSync } from 'node:fs';
import { isFpmkitError } from '../../src/errors.js';
import { applySysctlFile } from '../../src/host/apply-sysctl.js';

const common = () => ({
  somaxconn: readFileSync('/proc/sys/net/core/somaxconn', 'utf8').trim(),
  netns: readlinkSync('/proc/self/ns/net'),
});
try {
  const result = await applySysctlFile(
    process.argv[2]!,
    JSON.parse(process.argv[3]!),
    process.argv[4] === undefined ? {} : { procSysRoot: process.argv[4] },
  );
  process.stdout.write(JSON.stringify({ ...result, ...common() }));
} catch (error) {
  if (!isFpmkitError(error)) throw error;
  const e = error as { code: string; name: string; path?: string; mismatched?: unknown };
  process.stdout.write(
    JSON.stringify({
      error: { code: e.code, name: e.name, path: e.path, mismatched: e.mismatched },
      ...common(),
    }),
  );
}
