/**
 * Code as a user writes it against fpmkit's types, compiled with `strict` and
 * `exactOptionalPropertyTypes` (test/types/tsconfig.json, against the built package; and by
 * `npm run typecheck`, against the sources). It is never run: it compiles or the test fails.
 *
 * The rule it holds fpmkit to: a model is written against the input types (`FpmConfigInput`,
 * `PoolConfigInput`, `GlobalConfigInput`), where every group may be left out, and every
 * optional field of an options or input type also takes `undefined`, meaning "not given".
 */
import {
  type CheckFpmConfigOptions,
  checkFpmConfig,
  type FetchStatusOptions,
  type FpmConfig,
  type FpmConfigInput,
  type GlobalConfigInput,
  type PlanPoolInput,
  type PoolConfigInput,
  planPool,
  type RenderFpmOptions,
  renderFpmConfig,
  renderGlobal,
  renderPool,
} from 'fpmkit';

// Object literals of the documented input types: no group is required, modes as FPM writes them.
const global: GlobalConfigInput = {
  errorLog: '/var/log/php-fpm.log',
  processControlTimeoutSeconds: 30,
};
const pool: PoolConfigInput = {
  name: 'shop',
  listen: { address: '/run/php/shop.sock', mode: '0660', owner: 'www-data' },
  pm: { mode: 'dynamic', maxChildren: 8, minSpareServers: 2, maxSpareServers: 4 },
  phpAdminValue: { memory_limit: '256M' },
};
const numericMode: PoolConfigInput = { name: 'api', listen: { mode: 0o660 } };
const config: FpmConfigInput = { global, pools: [pool, numericMode] };
const minimal: FpmConfigInput = { pools: [{ name: 'www' }] };

// What fpmkit returns is an input too, so a parsed model can be changed and rendered back.
declare const parsed: FpmConfig;
const again: FpmConfigInput = parsed;

// The output types are not for writing: they hold every group fpmkit fills in.
// @ts-expect-error TS2739: `global` is missing, and `listen`, `pm`... in the pool
const written: FpmConfig = { pools: [{ name: 'www' }] };
// A misspelt field is an error in a literal (and at run time, naming `pmm`).
// @ts-expect-error TS2353: 'pmm' does not exist in type PoolConfigInput
const typo: PoolConfigInput = { name: 'www', pmm: {} };

// Optional fields take undefined: values passed through from a caller's own optional options.
declare const maybeSomaxconn: number | undefined;
declare const maybeFlag: boolean | undefined;
declare const maybeTimeout: number | undefined;
declare const maybeUser: string | undefined;
const check: CheckFpmConfigOptions = { somaxconn: maybeSomaxconn, asRoot: maybeFlag };
const render: RenderFpmOptions = { allowPoolVariable: maybeFlag, allowRefused: undefined };
const fetch: FetchStatusOptions = { timeoutMs: maybeTimeout, full: maybeFlag, path: undefined };
const withUser: PoolConfigInput = { name: 'www', user: maybeUser, listen: { backlog: undefined } };
const plan: PlanPoolInput = {
  name: 'www',
  arrivalRate: 50,
  serviceTimeSeconds: 0.1,
  cpuShare: undefined,
  cores: 2,
  totalMemoryBytes: 4 * 1024 ** 3,
  currentSomaxconn: maybeSomaxconn,
};

export const uses = [
  renderFpmConfig(config, render),
  renderFpmConfig(minimal),
  renderFpmConfig(again),
  renderGlobal(global),
  renderPool(withUser),
  checkFpmConfig(config, check).ok,
  planPool(plan).pool.pm.maxChildren,
  fetch,
  written,
  typo,
];
