import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadedFiles, packagesOf } from '../test/support/loaded-files.js';
import { checkLoad, median } from './lib.js';

/**
 * Start-up cost: the wall and CPU time of a fresh `node` that runs `fpmkit --version`, `fpmkit status
 * --help`, or imports one subpath of the built package (ESM and CJS), beside `node -e 0` (the
 * floor: a process that does nothing) and a bare `import 'zod'` (the cost of the schema library
 * alone). Each figure is the median of ROUNDS runs, the contenders interleaved so drift in
 * machine speed hits all of them alike.
 *
 * Runs against the package at FPMKIT_BENCH_ROOT (default: this checkout), which must be built.
 * `--rounds N` changes the number of runs per contender.
 */
const root = resolve(process.env.FPMKIT_BENCH_ROOT ?? join(import.meta.dirname, '..'));
const roundsArg = process.argv.indexOf('--rounds');
const ROUNDS = roundsArg > 0 ? Number(process.argv[roundsArg + 1]) : 21;
const WARMUP = 2;

interface Contender {
  name: string;
  role: 'floor' | 'peer' | 'fpmkit';
  args: string[];
}

const bin = join(root, 'dist', 'cli', 'bin.js');
if (!existsSync(bin)) {
  console.error(`${bin} is missing: run npm run build first`);
  process.exit(1);
}
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  name: string;
  exports: Record<string, unknown>;
};
const subpaths = Object.keys(pkg.exports)
  .filter((key) => key !== './package.json')
  .map((key) => (key === '.' ? pkg.name : `${pkg.name}/${key.slice(2)}`));

const esm = (code: string) => ['--input-type=module', '-e', code];
const contenders: Contender[] = [
  { name: 'node -e 0', role: 'floor', args: ['-e', '0'] },
  { name: "import 'zod' (ESM)", role: 'peer', args: esm("import 'zod'") },
  { name: "require('zod') (CJS)", role: 'peer', args: ['-e', "require('zod')"] },
  { name: 'fpmkit --version', role: 'fpmkit', args: [bin, '--version'] },
  { name: 'fpmkit status --help', role: 'fpmkit', args: [bin, 'status', '--help'] },
  ...subpaths.flatMap((id): Contender[] => [
    { name: `import '${id}'`, role: 'fpmkit', args: esm(`import '${id}'`) },
    { name: `require('${id}')`, role: 'fpmkit', args: ['-e', `require('${id}')`] },
  ]),
];

/**
 * Bash's `time` around one run: wall time, and CPU time (user + system, from the kernel's
 * rusage of the child), both in ms. CPU time is the steadier figure on a busy machine, since it
 * does not count the time the process waited for a core. The cwd is the package root, so
 * `fpmkit/x` resolves to it.
 */
function time(c: Contender): { wallMs: number; cpuMs: number } {
  const result = spawnSync(
    'bash',
    [
      '-c',
      'TIMEFORMAT="%3R %3U %3S"; { time "$@" >/dev/null 2>&1; } 2>&1',
      'bash',
      process.execPath,
      ...c.args,
    ],
    { cwd: root, encoding: 'utf8' },
  );
  if (result.status !== 0) {
    const again = spawnSync(process.execPath, c.args, { cwd: root, encoding: 'utf8' });
    throw new Error(`${c.name} exited ${result.status}: ${again.stderr}`);
  }
  const [real, user, sys] = result.stdout.trim().split('\n').at(-1)!.split(' ').map(Number);
  return { wallMs: real! * 1000, cpuMs: (user! + sys!) * 1000 };
}

checkLoad();
const wall = contenders.map(() => [] as number[]);
const cpu = contenders.map(() => [] as number[]);
for (let r = 0; r < WARMUP + ROUNDS; r++) {
  for (const [i, c] of contenders.entries()) {
    const t = time(c);
    if (r < WARMUP) continue;
    wall[i]!.push(t.wallMs);
    cpu[i]!.push(t.cpuMs);
  }
}

{
  const wallFloor = median(wall[0]!);
  const cpuFloor = median(cpu[0]!);
  const num = (value: number, width: number) => value.toFixed(1).padStart(width);
  console.log(`\nStart-up of ${root} (median of ${ROUNDS} runs per contender)`);
  console.log(
    `  ${'role'.padEnd(6)} ${'contender'.padEnd(38)} ${'wall ms'.padStart(8)} ${'x floor'.padStart(8)} ${'cpu ms'.padStart(7)} ${'x floor'.padStart(8)} ${'+cpu'.padStart(6)} ${'files'.padStart(5)}  loads`,
  );
  for (const [i, c] of contenders.entries()) {
    const w = median(wall[i]!);
    const u = median(cpu[i]!);
    const { files } = loadedFiles(c.args, root);
    const heavy = packagesOf(files).join(', ');
    console.log(
      `  ${c.role.padEnd(6)} ${c.name.padEnd(38)} ${num(w, 8)} ${(w / wallFloor).toFixed(2).padStart(7)}x ${num(u, 7)} ${(u / cpuFloor).toFixed(2).padStart(7)}x ${num(u - cpuFloor, 6)} ${String(files.length).padStart(5)}  ${heavy || '-'}`,
    );
  }
  console.log(
    '\n  x floor: median / median of `node -e 0`; cpu ms: user + system time of the process;\n' +
      '  +cpu: cpu ms above the floor, the cost of what the contender loads; files: files\n' +
      '  loaded through the ESM loader or require(); loads: heavy dependencies among them.',
  );
}
