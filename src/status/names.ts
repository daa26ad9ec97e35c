/**
 * The names FPM's status page uses: formats, process managers, fields and worker states. Kept
 * apart from the schemas in model.ts so the parsers load without zod.
 */

/** The five formats FPM's status page speaks, selected by a query-string key. */
export const STATUS_FORMATS = ['text', 'json', 'xml', 'html', 'openmetrics'] as const;
/** A status page format FPM can answer in (see {@link STATUS_FORMATS}). */
export type StatusFormat = (typeof STATUS_FORMATS)[number];

/** Process managers FPM reports in `process manager`. */
export const PROCESS_MANAGERS = ['static', 'dynamic', 'ondemand'] as const;
/** A `process manager` FPM reports (see {@link PROCESS_MANAGERS}). */
export type ProcessManager = (typeof PROCESS_MANAGERS)[number];

/**
 * Every field FPM prints on its status page, pool fields then process fields, spelled as the
 * JSON keys are (the text page lower-cases them; XML joins words with `-`).
 */
export const STATUS_FIELD_KEYS = [
  'pool',
  'process manager',
  'start time',
  'start since',
  'accepted conn',
  'listen queue',
  'max listen queue',
  'listen queue len',
  'idle processes',
  'active processes',
  'total processes',
  'max active processes',
  'max children reached',
  'slow requests',
  'memory peak',
  'pid',
  'state',
  'requests',
  'request duration',
  'request method',
  'request uri',
  'content length',
  'user',
  'script',
  'last request cpu',
  'last request memory',
] as const;

/**
 * Worker states FPM prints (`fpm_request.c` stage names). `Ending` exists in FPM's table but is
 * never set. FPM 8.2 has no name for the creating stage and prints `(null)`; the parsers report
 * that as `Creating`, the name 8.4 prints.
 */
export const PROCESS_STATES = [
  'Creating',
  'Idle',
  'Reading headers',
  'Getting request information',
  'Running',
  'Finishing',
  'Ending',
] as const;
/** A worker `state` FPM reports (see {@link PROCESS_STATES}). */
export type FpmProcessState = (typeof PROCESS_STATES)[number];
