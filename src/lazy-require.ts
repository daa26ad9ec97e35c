import { createRequire } from 'node:module';

/**
 * A synchronous `require` for dependencies only some calls need (fast-xml-parser for XML status
 * pages), so importing the module that may need them does not load them. In the ESM build it
 * loads the dependency's CommonJS entry; fpmkit keeps the instance private, so the copy used
 * makes no difference to callers.
 */
export const lazyRequire = createRequire(import.meta.url);
