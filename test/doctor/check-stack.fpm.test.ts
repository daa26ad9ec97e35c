/**
 * The facts checkStack relies on, checked against a real php-fpm 8.2:
 * - who may connect() to a pool's UNIX socket for each listen.owner / group / mode / ACL
 *   combination, compared with checkStack's stack.socket-not-writable verdict;
 * - max_execution_time counts CPU time only, so a sleeping script outlives it
 *   (stack.no-wall-clock-limit).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkStack } from '../../src/doctor/index.js';
import type { PoolConfigInput } from '../../src/fpm/index.js';
import { findBinary, isRoot, phpFpmBinary } from '../support/integration.js';
import { type StartedFpm, startPhpFpm } from '../support/php-fpm.js';
import { run } from '../support/process.js';

const fpmReq = phpFpmBinary();
/** The web server's account on Debian: www-data, uid and gid 33, no other groups. */
const WWW = { uid: 33, gid: 33, name: 'www-data', groups: ['www-data'] };

/** Tries connect() as uid/gid (supplementary groups dropped); returns 'OK' or the errno code. */
function connectAs(path: string, uid: number, gid: number): string {
  const script = `const s = require('node:net').connect(${JSON.stringify(path)});
s.on('connect', () => { process.stdout.write('OK'); s.destroy(); });
s.on('error', (e) => process.stdout.write(e.code));`;
  const r = spawnSync(process.execPath, ['-e', script], {
    uid,
    gid,
    encoding: 'utf8',
    timeout: 10_000,
  });
  return r.stdout.trim() || `failed: ${r.stderr}`;
}

interface SocketCase {
  name: string;
  directives: string;
  listen: PoolConfigInput['listen'];
}

const cases: SocketCase[] = [
  { name: 'unset', directives: 'listen.mode = 0660', listen: { mode: 0o660 } },
  {
    name: 'owner',
    directives: 'listen.owner = www-data\nlisten.mode = 0660',
    listen: { owner: 'www-data', mode: 0o660 },
  },
  {
    name: 'group',
    directives: 'listen.group = www-data\nlisten.mode = 0660',
    listen: { group: 'www-data', mode: 0o660 },
  },
  {
    // The owner's bits decide for the owner, even when the group's would allow.
    name: 'ownerreadonly',
    directives: 'listen.owner = www-data\nlisten.group = www-data\nlisten.mode = 0460',
    listen: { owner: 'www-data', group: 'www-data', mode: 0o460 },
  },
  {
    // listen.owner by name also sets the group to that user's primary group (root's is root).
    name: 'ownerroot',
    directives: 'listen.owner = root\nlisten.mode = 0660',
    listen: { owner: 'root', mode: 0o660 },
  },
  { name: 'other', directives: 'listen.mode = 0666', listen: { mode: 0o666 } },
  {
    name: 'othernowrite',
    directives: 'listen.mode = 0664',
    listen: { mode: 0o664 },
  },
];

const aclCases: SocketCase[] = [
  {
    name: 'aclusers',
    directives: 'listen.acl_users = www-data\nlisten.mode = 0660',
    listen: { aclUsers: ['www-data'], mode: 0o660 },
  },
  {
    name: 'aclother',
    directives: 'listen.acl_users = nobody\nlisten.mode = 0660',
    listen: { aclUsers: ['nobody'], mode: 0o660 },
  },
  {
    name: 'aclgroups',
    directives: 'listen.acl_groups = www-data\nlisten.mode = 0660',
    listen: { aclGroups: ['www-data'], mode: 0o660 },
  },
  {
    // ACLs make FPM skip the chown, so listen.owner does not help.
    name: 'aclignoresowner',
    directives: 'listen.acl_users = nobody\nlisten.owner = www-data\nlisten.mode = 0660',
    listen: { aclUsers: ['nobody'], owner: 'www-data', mode: 0o660 },
  },
];

function predicted(c: SocketCase, socketPath: string): string {
  const findings = checkStack({
    fpm: {
      pool: {
        name: c.name,
        listen: { ...c.listen, address: socketPath },
        pm: { mode: 'static', maxChildren: 2 },
      },
    },
    kernel: {},
    webServerUser: { name: WWW.name, groups: WWW.groups },
  });
  return findings.some((f) => f.code === 'stack.socket-not-writable') ? 'EACCES' : 'OK';
}

const canSwitchUser = isRoot() && findBinary('id') !== undefined;

describe.skipIf(!fpmReq.available || !canSwitchUser)(
  `socket permissions: checkStack against real connect() as www-data${fpmReq.available ? (canSwitchUser ? '' : ' (needs root to switch user)') : fpmReq.reason}`,
  () => {
    let fpm: StartedFpm;
    beforeAll(async () => {
      fpm = await startPhpFpm({
        pools: cases.map((c) => ({ name: c.name, directives: c.directives })),
      });
    });
    afterAll(async () => {
      await fpm?.stop();
    });

    it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
      const path = fpm.pool(c.name).socketPath!;
      expect(connectAs(path, WWW.uid, WWW.gid)).toBe(predicted(c, path));
    });

    it("listen.owner by name also hands the socket to that user's primary group", () => {
      // nobody with www-data as its only group: allowed only if the socket's group is www-data.
      const path = fpm.pool('owner').socketPath!;
      expect(connectAs(path, 65534, WWW.gid)).toBe('OK');
      const findings = checkStack({
        fpm: {
          pool: {
            name: 'owner',
            listen: { address: path, owner: 'www-data', mode: 0o660 },
            pm: { mode: 'static', maxChildren: 2 },
          },
        },
        kernel: {},
        webServerUser: { name: 'nobody', groups: ['www-data'] },
      });
      expect(findings.map((f) => f.code)).not.toContain('stack.socket-not-writable');
    });

    it('predicts both outcomes across the table', () => {
      const outcomes = new Set(cases.map((c) => predicted(c, '/x.sock')));
      expect(outcomes).toEqual(new Set(['OK', 'EACCES']));
    });

    describe('with ACLs', () => {
      let aclFpm: StartedFpm | undefined;
      let startError: string | undefined;
      beforeAll(async () => {
        try {
          aclFpm = await startPhpFpm({
            pools: aclCases.map((c) => ({ name: c.name, directives: c.directives })),
          });
        } catch (error) {
          // A file system without POSIX ACLs makes FPM fail to set them.
          startError = (error as Error).message;
        }
      });
      afterAll(async () => {
        await aclFpm?.stop();
      });

      it.each(aclCases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
        if (!aclFpm) {
          expect(startError).toMatch(/ACL/);
          return;
        }
        const path = aclFpm.pool(c.name).socketPath!;
        expect(connectAs(path, WWW.uid, WWW.gid)).toBe(predicted(c, path));
      });
    });
  },
);

const cgiFcgi = findBinary('cgi-fcgi');

describe.skipIf(!fpmReq.available || !cgiFcgi)(
  `max_execution_time counts CPU time only${fpmReq.available ? (cgiFcgi ? '' : ' (cgi-fcgi missing: apt-get install libfcgi-bin)') : fpmReq.reason}`,
  () => {
    let fpm: StartedFpm;
    beforeAll(async () => {
      fpm = await startPhpFpm({
        pools: [{ name: 'limited', directives: 'php_admin_value[max_execution_time] = 1' }],
        scripts: {
          'sleep.php': '<?php sleep(2); echo "slept ", ini_get("max_execution_time");',
          'spin.php':
            '<?php $t = microtime(true); while (microtime(true) - $t < 5) {} echo "spun";',
        },
      });
    });
    afterAll(async () => {
      await fpm?.stop();
    });

    async function request(script: string) {
      return run(cgiFcgi!, ['-bind', '-connect', fpm.pool('limited').socketPath!], {
        env: {
          SCRIPT_FILENAME: `${fpm.wwwDir}/${script}`,
          SCRIPT_NAME: `/${script}`,
          REQUEST_METHOD: 'GET',
        },
        timeoutMs: 20_000,
      });
    }

    it('lets a script sleep past max_execution_time', async () => {
      const r = await request('sleep.php');
      expect(r.stdout).toContain('slept 1');
    });

    it('stops a script that burns CPU past it', async () => {
      const r = await request('spin.php');
      expect(r.output).toMatch(/Maximum execution time of 1 second exceeded/);
      expect(r.stdout).not.toContain('spun');
    });

    it('so checkStack warns when request_terminate_timeout is off', () => {
      const findings = checkStack({
        fpm: {
          pool: {
            name: 'limited',
            listen: { address: fpm.pool('limited').socketPath! },
            pm: { mode: 'static', maxChildren: 2 },
            phpAdminValue: { max_execution_time: '1' },
          },
        },
        kernel: {},
      });
      expect(findings.find((f) => f.code === 'stack.no-wall-clock-limit')?.evidence).toEqual({
        requestTerminateTimeoutSeconds: 0,
        maxExecutionTimeSeconds: 1,
      });
    });
  },
);

describe.skipIf(!fpmReq.available || !isRoot())(
  `rlimit_files above fs.nr_open${fpmReq.available ? (isRoot() ? '' : ' (needs root)') : fpmReq.reason}`,
  () => {
    const nrOpen = Number(readFileSync('/proc/sys/fs/nr_open', 'utf8'));
    const kernel = { nrOpen };

    it('in a pool: children keep the inherited limit and serve (stack.rlimit-files-above-nr-open is a warning)', async () => {
      const fpm = await startPhpFpm({
        // Without catch_workers_output the child's error goes to /dev/null.
        pools: [
          {
            name: 'files',
            directives: `rlimit_files = ${nrOpen + 1}\ncatch_workers_output = yes`,
          },
        ],
      });
      try {
        // Children log while they start, which may be after the socket accepts.
        const deadline = Date.now() + 10_000;
        let log = '';
        while (Date.now() < deadline) {
          log = `${readFileSync(fpm.errorLogPath, 'utf8')}${fpm.daemon.output()}`;
          if (log.includes('failed to set rlimit_files')) break;
          await new Promise((r) => setTimeout(r, 50));
        }
        expect(log).toContain('failed to set rlimit_files for this pool');
        expect(log).not.toMatch(/child failed to initialize/);
        // The child runs on with the master's limit.
        const child = readFileSync(`/proc/${fpm.pid}/task/${fpm.pid}/children`, 'utf8')
          .trim()
          .split(/\s+/)[0]!;
        const openFiles = (pid: string | number) =>
          /^Max open files\s+(\S+)\s+(\S+)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'))?.[1];
        expect(openFiles(child)).toBe(openFiles(fpm.pid));
      } finally {
        await fpm.stop();
      }
      const [f] = checkStack({
        fpm: {
          pool: {
            name: 'files',
            listen: { address: '/run/x.sock', mode: 0o660 },
            pm: { mode: 'static', maxChildren: 2, maxRequests: 10 },
            rlimitFiles: nrOpen + 1,
            requestTerminateTimeoutSeconds: 40,
          },
          global: { processControlTimeoutSeconds: 40 },
        },
        kernel,
      });
      expect(f).toMatchObject({ code: 'stack.rlimit-files-above-nr-open', severity: 'warning' });
    });

    it('in [global]: FPM does not start (stack.rlimit-files-above-nr-open is an error)', async () => {
      await expect(
        startPhpFpm({ pools: [{ name: 'files' }], global: `rlimit_files = ${nrOpen + 1}` }),
      ).rejects.toThrow(/setrlimit\(RLIMIT_NOFILE, \d+\)/);
      const findings = checkStack({
        fpm: {
          global: { rlimitFiles: nrOpen + 1 },
          pool: { name: 'files', pm: { mode: 'static', maxChildren: 2 } },
        },
        kernel,
      });
      expect(findings.find((f) => f.code === 'stack.rlimit-files-above-nr-open')).toMatchObject({
        severity: 'error',
        evidence: { section: 'global', nrOpen },
      });
    });
  },
);
