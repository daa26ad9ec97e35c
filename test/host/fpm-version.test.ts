import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectSnapshot, discoverFpm, readFpmBinaryVersion } from '../../src/host/index.js';
import { debian13Root } from '../support/debian13.js';
import { phpFpmBinary } from '../support/integration.js';
import { type StartedFpm, startPhpFpm } from '../support/php-fpm.js';

const fpm82 = phpFpmBinary();
const root84 = debian13Root();

describe.skipIf(!fpm82.available)(`readFpmBinaryVersion${fpm82.reason}`, () => {
  it('reads the version from the name, else from -v', async () => {
    expect(await readFpmBinaryVersion(fpm82.path!)).toBe('8.2');
    const dir = await mkdtemp(join(tmpdir(), 'fpmkit-fpmv-'));
    try {
      await symlink(fpm82.path!, join(dir, 'php-fpm'));
      expect(await readFpmBinaryVersion(join(dir, 'php-fpm'))).toBe('8.2');
      expect(await readFpmBinaryVersion(join(dir, 'missing'))).toBeUndefined();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(!fpm82.available || !root84.available)(
  `the running masters' PHP versions${fpm82.reason}${root84.reason}`,
  () => {
    const started: StartedFpm[] = [];
    beforeAll(async () => {
      for (const version of ['8.2', '8.4'] as const)
        started.push(await startPhpFpm({ version, pools: [{ name: 'www' }] }));
    });
    afterAll(async () => {
      for (const f of started) await f.stop();
    });

    it('are read from each master binary, and the snapshot reads the config as that version', async () => {
      const discovery = await discoverFpm({ parseConfig: false });
      const versions = await Promise.all(
        started.map(async (f) => {
          const master = discovery.masters.find((m) => m.pid === f.pid);
          return master?.executable === undefined
            ? undefined
            : readFpmBinaryVersion(master.executable);
        }),
      );
      expect(versions).toEqual(['8.2', '8.4']);
      const snapshot = await collectSnapshot({ fetchStatus: false, webServers: false });
      const m82 = snapshot.masters.find((m) => m.pid === started[0]!.pid);
      expect(m82?.phpVersion).toBe('8.2');
      expect(m82?.config.ok).toBe(true);
      expect(snapshot.masters.find((m) => m.pid === started[1]!.pid)?.phpVersion).toBe('8.4');
    });
  },
);
