/**
 * The quick classification of nginx error-log lines, kept apart from the parser because it is
 * clever: the doctor runs it on every line of a log window of up to 256 MiB and parses whole
 * only the lines it says matter, so it must cost less than splitting the text into lines.
 *
 * It reads each line in place, allocating nothing: a sticky regular expression for nginx's
 * frame, one for the message's shape (V8 compiles them to native code, and one match over the
 * ~45 characters of the frame costs less than reading them one `charCodeAt` at a time from a
 * line sliced out of a larger string), then a few `indexOf`s. It reads strings, not bytes,
 * because the lines reach it as text (the doctor's window, `readLines`). Its answer is the
 * parser's: `parsedLineClass` is the plain reference the tests compare it with on every fixture
 * line and on generated ones, and a line whose shape leaves any doubt goes through it.
 * `npm run bench logs` measures it beside a bare line split.
 *
 * Why the few tests below give the parser's answer. The parser cuts nginx's context
 * (`, client: ...`) off the end of the message, then the action after the last ` while `, and
 * classifies what is left by its start. So:
 * - only a message starting with `FastCGI sent in stderr: "`, `WORD()`, `upstream timed out (`,
 *   `upstream prematurely closed connection`, `no live upstreams` or `signal ` can have a class
 *   or kind other than `other`, and none of these prefixes holds a `,` or a ` while `, so no cut
 *   falls inside them;
 * - `WORD() [to TARGET] failed (ERRNO: TEXT)` has exactly one reading (the target is a run
 *   without white space), and a call and errno that do not make a class give `other` whatever
 *   the cuts;
 * - otherwise the class depends on the action: when the shape holds no `,` (no cut lands inside
 *   it) and is followed by the line's only ` while `, the action starts right after it, whichever
 *   `, client: ` the parser takes for the context;
 * - in particular when the errno text holds no `,` nor `w` up to `) while `, the action none up
 *   to its `upstream`, and no `while ` follows: that ` while ` is the last one (the one the parser
 *   cuts at, whatever came before it), and the context starts at a `,`, after `upstream`.
 */
import {
  type NginxErrorLineClass,
  parsedLineClass,
  syscallClass,
  timeoutClass,
} from './nginx-error-log.js';

// nginx's frame `YYYY/MM/DD HH:MM:SS [level] PID#TID: [*CONN ]`, accepting exactly what the
// parser's frame reader accepts (the time's ranges, the levels, at most 15 digits per number).
const FRAME =
  /\d{4}\/(?:0[1-9]|1[0-2])\/(?:0[1-9]|[12]\d|3[01]) (?:[01]\d|2[0-3]):[0-5]\d:(?:[0-5]\d|60) \[(?:debug|info|notice|warn|error|crit|alert|emerg)\] \d{1,15}#\d{1,15}: (?:\*\d{1,15} )?/y;
// The parser's `SYSCALL_FAILED` up to its errno, for `connect` and for any call.
const CONNECT_FAILED = /connect\(\)(?: to \S+)? failed \(/y;
const CALL_FAILED = /\w+\(\)(?: to \S+)? failed \(/y;
// From a shape's errno on, the most common rest of a line in one match: no `,` and no `w`
// (so no ` while `) up to `) while `, then none up to the action's `upstream`. nginx's errno
// texts and upstream actions hold neither, so most lines are read by this and one `indexOf`.
const PLAIN_TAIL = /: [^),w]*\) while [^,w]*upstream/y;
const PLAIN_TIMEOUT_TAIL = /: [^),w]*\) while /y;
// The frame and, when the message has one, a shape whose class the match alone decides; each
// shape ends in its own character (`m`, `"`, `n`, `s`, `d`), while the frame ends in a space.
// The first is the line of a full backlog (`connect() to unix:... failed (11: ...) while
// connecting to upstream`), most of the log during the incident the doctor is run for.
const FRAME_AND_SHAPE = new RegExp(
  `${FRAME.source}(?:${[
    /connect\(\)(?: to \S+)? failed \(0*11: [^),w]*\) while [^,w]*upstream/.source,
    /FastCGI sent in stderr: "/.source,
    /upstream prematurely closed connection/.source,
    /no live upstreams/.source,
    /signal \d+ \(\w+\) received/.source,
  ].join('|')})?`,
  'y',
);
// The parser's `SIGNAL`, up to what decides whether it matches.
const SIGNAL_SHAPE = /signal \d+ \(\w+\) received/y;

const FASTCGI_STDERR = 'FastCGI sent in stderr: "';
const TIMED_OUT = 'upstream timed out (';
const PREMATURE = 'upstream prematurely closed connection';
const NO_LIVE = 'no live upstreams';

/** End of the run of ASCII digits from `from`. */
function digitsEnd(text: string, from: number): number {
  let i = from;
  for (;;) {
    const d = text.charCodeAt(i) - 48;
    if (d >= 0 && d <= 9) i++;
    else return i;
  }
}

/** `actionAfter`'s answers besides an index: no action, or a shape left to the parser. */
const NO_ACTION = -1;
const IN_DOUBT = -2;

/** Where `actionAfter` found the first `,` of the message, for the caller. */
let firstComma = -1;

/**
 * Where the parser's action starts for a message at `s` whose class shape ends at `end`: the
 * index after the ` while ` at `end`, `NO_ACTION` when the line has no `while `, `IN_DOUBT`
 * when a cut could land elsewhere (a `,` inside the shape, another `while `).
 */
function actionAfter(text: string, s: number, end: number): number {
  const comma = text.indexOf(',', s);
  if (comma !== -1 && comma < end) return IN_DOUBT;
  firstComma = comma;
  const w = text.indexOf('while ', s);
  if (w === -1) return NO_ACTION;
  if (w !== end + 1 || text.charCodeAt(end) !== 32) return IN_DOUBT;
  if (text.indexOf('while ', w + 1) !== -1) return IN_DOUBT;
  return w + 6;
}

/** `upstream timed out (ERRNO: TEXT)`: its class by the phase the action names. */
function timedOutClass(text: string, s: number): NginxErrorLineClass | undefined {
  const errnoAt = s + TIMED_OUT.length;
  const errnoEnd = digitsEnd(text, errnoAt);
  if (errnoEnd === errnoAt) return 'other';
  let action: number;
  PLAIN_TIMEOUT_TAIL.lastIndex = errnoEnd;
  if (
    PLAIN_TIMEOUT_TAIL.test(text) &&
    text.indexOf('while ', PLAIN_TIMEOUT_TAIL.lastIndex) === -1
  ) {
    // The only ` while ` of the line follows the shape, and no `,` comes before it.
    action = PLAIN_TIMEOUT_TAIL.lastIndex;
  } else {
    if (text.charCodeAt(errnoEnd) !== 58 || text.charCodeAt(errnoEnd + 1) !== 32) return 'other';
    const close = text.indexOf(')', errnoEnd + 2);
    if (close === -1) return 'other';
    action = actionAfter(text, s, close + 1);
    if (action === IN_DOUBT) return parsedLineClass(text);
    if (action === NO_ACTION) return timeoutClass('unknown');
  }
  if (text.startsWith('connecting', action)) return timeoutClass('connect');
  if (text.startsWith('sending', action)) return timeoutClass('send');
  if (text.startsWith('reading', action)) return timeoutClass('read');
  return timeoutClass('unknown');
}

/** The largest errno that can make a class; a larger one (however long) reads as this plus one. */
const MAX_ERRNO = 1000;

/** `WORD() [to TARGET] failed (ERRNO: TEXT)`: its class, by call, errno and action. */
function syscallLineClass(text: string, s: number): NginxErrorLineClass | undefined {
  let call = '';
  let errnoAt = -1;
  if (text.charCodeAt(s) === 99 /* c */) {
    CONNECT_FAILED.lastIndex = s;
    if (CONNECT_FAILED.test(text)) {
      call = 'connect';
      errnoAt = CONNECT_FAILED.lastIndex;
    }
  }
  if (errnoAt < 0) {
    CALL_FAILED.lastIndex = s;
    if (!CALL_FAILED.test(text)) return 'other';
    errnoAt = CALL_FAILED.lastIndex;
  }
  let errno = 0;
  let errnoEnd = errnoAt;
  for (;;) {
    const d = text.charCodeAt(errnoEnd) - 48;
    if (d < 0 || d > 9) break;
    errno = Math.min(errno * 10 + d, MAX_ERRNO + 1);
    errnoEnd++;
  }
  if (
    errnoEnd === errnoAt ||
    text.charCodeAt(errnoEnd) !== 58 ||
    text.charCodeAt(errnoEnd + 1) !== 32
  )
    return 'other';
  const cls = syscallClass(call, errno);
  if (cls === 'other') return 'other';
  PLAIN_TAIL.lastIndex = errnoEnd;
  if (PLAIN_TAIL.test(text) && text.indexOf('while ', PLAIN_TAIL.lastIndex) === -1) {
    // The only ` while ` of the line follows the shape; `upstream` comes before any `,`.
    return cls;
  }
  const close = text.indexOf(')', errnoEnd + 2);
  if (close === -1) return 'other';
  const action = actionAfter(text, s, close + 1);
  if (action === IN_DOUBT) return parsedLineClass(text);
  if (action === NO_ACTION) return 'other';
  // The context the parser cuts starts at a `,`: `upstream` before the first one is in the
  // action whichever `, client: ` it cuts at.
  const upstream = text.indexOf('upstream', action);
  if (upstream === -1) return 'other';
  if (firstComma === -1 || upstream + 8 <= firstComma) return cls;
  return parsedLineClass(text);
}

/**
 * The class `parseNginxErrorLog` would give a line (`event.class` for an upstream error, else
 * `event.kind`), or undefined for a line not in nginx's frame, without building the entry: a
 * quick test of the few message shapes that carry a class, read in place. Lines whose shape
 * leaves any doubt go through the full parse, so the answer is always the parser's.
 *
 * ```ts
 * classifyNginxErrorLine('2026/11/21 08:47:32 [error] 2799#2799: *722 connect() to unix:/run/php/php8.2-fpm.sock failed (11: Resource temporarily unavailable) while connecting to upstream, client: 127.0.0.1, ...');
 * // 'backlog_full'
 * ```
 */
export function classifyNginxErrorLine(text: string): NginxErrorLineClass | undefined {
  FRAME_AND_SHAPE.lastIndex = 0;
  if (!FRAME_AND_SHAPE.test(text)) return undefined;
  const end = FRAME_AND_SHAPE.lastIndex;
  switch (text.charCodeAt(end - 1)) {
    case 109 /* m */:
      // As in `PLAIN_TAIL`: with no `while ` after it, the ` while ` matched is the last one.
      if (text.indexOf('while ', end) === -1) return 'backlog_full';
      break;
    case 34 /* " */:
      return 'fastcgi_stderr';
    case 110 /* n */:
      return 'premature_close';
    case 115 /* s */:
      return 'no_live_upstreams';
    case 100 /* d */:
      return 'signal';
    case 32 /* space: the frame alone */:
      return messageClass(text, end);
  }
  FRAME.lastIndex = 0;
  FRAME.test(text);
  return messageClass(text, FRAME.lastIndex);
}

/**
 * The class of a line in nginx's frame by its message, which starts at `s`: complete on its own,
 * `FRAME_AND_SHAPE` only answers the commonest shapes sooner.
 */
function messageClass(text: string, s: number): NginxErrorLineClass | undefined {
  switch (text.charCodeAt(s)) {
    case 70 /* F */:
      if (text.startsWith(FASTCGI_STDERR, s)) return 'fastcgi_stderr';
      break;
    case 115 /* s */:
      if (text.startsWith('signal ', s)) {
        SIGNAL_SHAPE.lastIndex = s;
        return SIGNAL_SHAPE.test(text) ? 'signal' : 'other';
      }
      break;
    case 117 /* u */:
      // `upstream t...` or `upstream p...`: one character picks the prefix to compare.
      if (text.charCodeAt(s + 9) === 116 /* t */) {
        if (text.startsWith(TIMED_OUT, s)) return timedOutClass(text, s);
      } else if (text.startsWith(PREMATURE, s)) return 'premature_close';
      break;
    case 110 /* n */:
      if (text.startsWith(NO_LIVE, s)) return 'no_live_upstreams';
      break;
  }
  return syscallLineClass(text, s);
}
