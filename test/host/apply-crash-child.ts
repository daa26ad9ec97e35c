// Runs one apply and kills itself with SIGKILL when the journal reaches the step named in
// argv[3]. argv[2] is a JSON object: { configPath, pidFile, stateDir, prefix, edits }.
import { applyFpmChanges } from '../../src/host/apply.js';

const input = JSON.parse(process.argv[2]!);
const killAt = process.argv[3];
await applyFpmChanges(input.edits, {
  configPath: input.configPath,
  pidFile: input.pidFile,
  stateDir: input.stateDir,
  prefix: input.prefix,
  verifyDeadlineMs: 3000,
  onStep: (step) => {
    if (step === killAt) process.kill(process.pid, 'SIGKILL');
  },
}).catch(() => {});
process.stdout.write('finished\n');
