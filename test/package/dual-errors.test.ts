import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The dual-package hazard for errors: the CommonJS and the ESM build of fpmkit loaded in one
 * process each define every error class. An error thrown by one copy must still pass
 * `instanceof` against the other copy's class, and fail it against every unrelated class.
 */
const root = join(import.meta.dirname, '..', '..');
const cjsPath = join(root, 'dist', 'index.cjs');
const esmPath = join(root, 'dist', 'index.js');
const built = existsSync(cjsPath) && existsSync(esmPath);
const required = process.env.FPMKIT_REQUIRE_INTEGRATION === '1';
if (!built && required) {
  throw new Error('dist/index.cjs or dist/index.js is missing: run npm run build first');
}

type Ns = Record<string, unknown>;
type Ctor = new (...args: never[]) => Error & { code: string };

const status = (kind: string) => ({
  kind,
  target: 'unix:/run/php/www.sock',
  path: '/status',
  httpStatus: 404,
  fix: 'set pm.status_path',
  body: 'File not found.',
  stderr: '',
});

/**
 * Every error class fpmkit exports, with the one code it carries and two ways to make one (with
 * different arguments, to show the code does not depend on them). `null` for an abstract class,
 * which fpmkit never throws itself (its subclasses are).
 */
const CLASSES: Record<string, { code: string; make: Array<(c: Ns) => unknown> } | null> = {
  FpmkitError: {
    code: 'FPMKIT_ERROR',
    make: [(c) => new (c.FpmkitError as Ctor)('x' as never), (c) => new (c.FpmkitError as Ctor)()],
  },
  FpmkitParseError: {
    code: 'FPMKIT_PARSE',
    make: [
      (c) => new (c.FpmkitParseError as Ctor)('bad' as never),
      (c) => new (c.FpmkitParseError as Ctor)('bad' as never, { source: 'a', line: 2 } as never),
    ],
  },
  FpmkitInvalidOptionError: {
    code: 'FPMKIT_INVALID_OPTION',
    make: [(c) => new (c.FpmkitInvalidOptionError as Ctor)('a' as never, 'rule' as never)],
  },
  FpmkitFpmRefusedError: {
    code: 'FPMKIT_INVALID_OPTION',
    make: [
      (c) => new (c.FpmkitFpmRefusedError as Ctor)('pools' as never, [] as never),
      (c) =>
        new (c.FpmkitFpmRefusedError as Ctor)(
          'pools[0].pm.maxChildren' as never,
          [{ code: 'fpm.max-children', severity: 'error', message: 'm' }] as never,
        ),
    ],
  },
  FpmkitAbortError: {
    code: 'FPMKIT_ABORTED',
    make: [
      (c) => new (c.FpmkitAbortError as Ctor)(),
      (c) => new (c.FpmkitAbortError as Ctor)('m' as never),
    ],
  },
  FpmkitIoError: {
    code: 'FPMKIT_IO',
    make: [
      (c) =>
        new (c.FpmkitIoError as Ctor)('/x' as never, 'gone' as never, { errno: 'ENOENT' } as never),
    ],
  },
  FpmkitFileExistsError: {
    code: 'FPMKIT_IO',
    make: [(c) => new (c.FpmkitFileExistsError as Ctor)(['/a', '/b'] as never)],
  },
  FastCGIConnectError: {
    code: 'FPMKIT_CONNECT',
    make: [
      (c) => new (c.FastCGIConnectError as Ctor)('no' as never),
      (c) => new (c.FastCGIConnectError as Ctor)('no' as never, { errno: 'ENOENT' } as never),
    ],
  },
  FastCGISocketError: {
    code: 'FPMKIT_SOCKET',
    make: [
      (c) => new (c.FastCGISocketError as Ctor)('reset' as never, { phase: 'read' } as never),
      (c) => new (c.FastCGISocketError as Ctor)('pipe' as never, { phase: 'write' } as never),
    ],
  },
  FastCGITimeoutError: null,
  FastCGIConnectTimeoutError: {
    code: 'FPMKIT_CONNECT_TIMEOUT',
    make: [(c) => new (c.FastCGIConnectTimeoutError as Ctor)('t' as never, 5 as never)],
  },
  FastCGIReadTimeoutError: {
    code: 'FPMKIT_READ_TIMEOUT',
    make: [(c) => new (c.FastCGIReadTimeoutError as Ctor)('t' as never, 5 as never)],
  },
  FastCGITotalTimeoutError: {
    code: 'FPMKIT_TOTAL_TIMEOUT',
    make: [(c) => new (c.FastCGITotalTimeoutError as Ctor)('t' as never, 5 as never)],
  },
  FastCGIProtocolError: {
    code: 'FPMKIT_PROTOCOL',
    make: [(c) => new (c.FastCGIProtocolError as Ctor)('bad version' as never)],
  },
  FastCGIHttpPeerError: {
    code: 'FPMKIT_PROTOCOL',
    make: [(c) => new (c.FastCGIHttpPeerError as Ctor)(Buffer.from('HTTP/1.1 400 Bad') as never)],
  },
  FastCGIResponseTooLargeError: {
    code: 'FPMKIT_RESPONSE_TOO_LARGE',
    make: [(c) => new (c.FastCGIResponseTooLargeError as Ctor)(10 as never, 11 as never)],
  },
  FastCGIRequestRejectedError: {
    code: 'FPMKIT_FASTCGI_REJECTED',
    make: [
      (c) => new (c.FastCGIRequestRejectedError as Ctor)(2 as never, 0 as never),
      (c) => new (c.FastCGIRequestRejectedError as Ctor)(9 as never, 1 as never),
    ],
  },
  FpmStatusError: null,
  FpmStatusMisconfiguredError: {
    code: 'FPMKIT_STATUS_MISCONFIGURED',
    make: [
      (c) =>
        new (c.FpmStatusMisconfiguredError as Ctor)('m' as never, status('not-found') as never),
    ],
  },
  FpmStatusHttpError: {
    code: 'FPMKIT_STATUS_HTTP',
    make: [
      (c) => new (c.FpmStatusHttpError as Ctor)('m' as never, status('server-error') as never),
    ],
  },
  FpmkitInfeasiblePlanError: {
    code: 'FPMKIT_SIZING_INFEASIBLE',
    make: [(c) => new (c.FpmkitInfeasiblePlanError as Ctor)([] as never)],
  },
  FpmkitApplyLockedError: {
    code: 'FPMKIT_APPLY_LOCKED',
    make: [(c) => new (c.FpmkitApplyLockedError as Ctor)('/l' as never, 1 as never, 0 as never)],
  },
  FpmkitApplyStaleError: {
    code: 'FPMKIT_APPLY_STALE',
    make: [(c) => new (c.FpmkitApplyStaleError as Ctor)('/f' as never)],
  },
  FpmkitApplyRejectedError: {
    code: 'FPMKIT_APPLY_REJECTED',
    make: [(c) => new (c.FpmkitApplyRejectedError as Ctor)('fpmkit' as never, 'x' as never)],
  },
  FpmkitMissingDependencyError: {
    code: 'FPMKIT_MISSING_DEPENDENCY',
    make: [(c) => new (c.FpmkitMissingDependencyError as Ctor)('x' as never, 'm' as never)],
  },
  FpmkitApplyFailedError: {
    code: 'FPMKIT_APPLY_FAILED',
    make: [(c) => new (c.FpmkitApplyFailedError as Ctor)([] as never, true as never)],
  },
  FpmkitSysctlApplyError: {
    code: 'FPMKIT_SYSCTL_APPLY',
    make: [(c) => new (c.FpmkitSysctlApplyError as Ctor)('/f' as never, 'x' as never, [] as never)],
  },
  FpmkitListenerNotFoundError: {
    code: 'FPMKIT_LISTENER_NOT_FOUND',
    make: [(c) => new (c.FpmkitListenerNotFoundError as Ctor)('/s.sock' as never, 'm' as never)],
  },
  FpmStatusNoAnswerError: {
    code: 'FPMKIT_STATUS_NO_ANSWER',
    make: [(c) => new (c.FpmStatusNoAnswerError as Ctor)('m' as never, 5 as never)],
  },
};

describe.skipIf(!built)(
  `error classes across the CommonJS and ESM builds${built ? '' : ' (skipped: dist is missing, run npm run build)'}`,
  () => {
    const load = async () => {
      const cjs = createRequire(import.meta.url)(cjsPath) as Ns;
      const esm = (await import(pathToFileURL(esmPath).href)) as Ns;
      return { cjs, esm };
    };

    it('the two builds are two copies: their classes are different objects', async () => {
      const { cjs, esm } = await load();
      expect(typeof cjs.FastCGISocketError, 'dist is older than the source: rebuild').toBe(
        'function',
      );
      expect(cjs.FpmkitError).not.toBe(esm.FpmkitError);
      expect(cjs.FastCGIConnectError).not.toBe(esm.FastCGIConnectError);
    });

    it('the table names every error class the root exports, and each code has one class chain', async () => {
      const { esm } = await load();
      const base = esm.FpmkitError as Ctor;
      const exported = Object.entries(esm)
        .filter(([, v]) => typeof v === 'function')
        .filter(
          ([, v]) =>
            v === base ||
            Object.prototype.isPrototypeOf.call(base.prototype, (v as Ctor).prototype),
        )
        .map(([k]) => k)
        .sort();
      expect(exported).toEqual(Object.keys(CLASSES).sort());
      // Classes sharing a code are one class and its subclasses (FpmkitFileExistsError is an
      // FpmkitIoError), never two unrelated classes.
      const byCode = new Map<string, string[]>();
      for (const [name, entry] of Object.entries(CLASSES)) {
        if (entry) byCode.set(entry.code, [...(byCode.get(entry.code) ?? []), name]);
      }
      for (const [code, names] of byCode) {
        const [first, ...rest] = names.map((n) => esm[n] as Ctor);
        for (const sub of rest) {
          expect(Object.prototype.isPrototypeOf.call(first!.prototype, sub.prototype), code).toBe(
            true,
          );
        }
      }
      expect([...byCode.keys()].sort()).toEqual([...(esm.ERROR_CODES as string[])].sort());
    });

    for (const [name, entry] of Object.entries(CLASSES)) {
      if (entry === null) continue;
      it(`${name}: one code (${entry.code}), and instanceof holds both ways between the builds`, async () => {
        const { cjs, esm } = await load();
        for (const make of entry.make) {
          for (const [from, to] of [
            [cjs, esm],
            [esm, cjs],
          ] as const) {
            const error = make(from) as Error & { code: string };
            expect(error.code).toBe(entry.code);
            expect(error).toBeInstanceOf(from[name] as Ctor);
            expect(error instanceof (to[name] as Ctor), `${name} from the other build`).toBe(true);
            // Against every other class: what the prototype chain of its own build says.
            for (const other of Object.keys(CLASSES)) {
              const expected = Object.prototype.isPrototypeOf.call(
                (from[other] as Ctor).prototype,
                error,
              );
              expect(error instanceof (to[other] as Ctor), `${name} instanceof ${other}`).toBe(
                expected,
              );
            }
            expect(error.name).toBe(name);
          }
        }
      });
    }

    it('a caller-defined subclass keeps the ordinary check; plain errors are no fpmkit errors', async () => {
      const { cjs, esm } = await load();
      class Mine extends (esm.FpmkitError as new (m: string) => Error) {}
      const mine = new Mine('x');
      expect(mine).toBeInstanceOf(Mine);
      expect(mine instanceof (cjs.FpmkitError as Ctor)).toBe(true);
      expect(new (cjs.FpmkitError as Ctor)('x' as never) instanceof Mine).toBe(false);
      for (const value of [
        new Error('x'),
        { code: 'FPMKIT_CONNECT' },
        null,
        undefined,
        'FPMKIT_IO',
        1,
      ]) {
        expect(value instanceof (esm.FpmkitError as Ctor)).toBe(false);
        expect(value instanceof (cjs.FastCGIConnectError as Ctor)).toBe(false);
      }
    });
  },
);
