// Run inside `unshare -n`: applies argv[3] (JSON edits) to the sysctl.d file argv[2] and prints
// the result with the namespace's somaxconn as JSON.
import { readFileSync } from 'node:fs';
import { applySysctlFile } from '../../src/host/apply-sysctl.js';

const result = await applySysctlFile(process.argv[2]!, JSON.parse(process.argv[3]!));
process.stdout.write(
  JSON.stringify({
    ...result,
    somaxconn: readFileSync('/proc/sys/net/core/somaxconn', 'utf8').trim(),
    netns: (await import('node:fs')).readlinkSync('/proc/self/ns/net'),
  }),
);
