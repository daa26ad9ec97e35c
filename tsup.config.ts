import { defineConfig } from 'tsup';

const areas = [
  'fpm',
  'fastcgi',
  'status',
  'kernel',
  'web',
  'sizing',
  'logs',
  'doctor',
  'host',
  'metrics',
];

export default defineConfig([
  {
    entry: {
      index: 'src/index.ts',
      ...Object.fromEntries(areas.map((area) => [`${area}/index`, `src/${area}/index.ts`])),
      // The kernel parsers without the schemas, so importing them does not load zod.
      'kernel/parsers': 'src/kernel/parsers.ts',
    },
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: false,
    splitting: true,
    treeshake: true,
    // import.meta.url in the CJS build, for the lazily required XML parser.
    shims: true,
    target: 'node20',
  },
  {
    entry: { bin: 'src/cli/bin.ts' },
    // Its own folder, so the command's chunks stay apart from the library's.
    outDir: 'dist/cli',
    format: ['esm'],
    dts: false,
    // Each command's module in its own chunk, imported only when that command runs.
    splitting: true,
    sourcemap: true,
    clean: false,
    target: 'node20',
    banner: { js: '#!/usr/bin/env node' },
  },
]);
