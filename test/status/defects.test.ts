import { describe, expect, it } from 'vitest';
import { FpmkitParseError, isFpmkitError } from '../../src/errors.js';
import { clampCounter, parseFpmLocalTime } from '../../src/status/fields.js';
import {
  PROCESS_STATES,
  parseStatus,
  parseStatusHtml,
  parseStatusJson,
  parseStatusOpenMetrics,
  parseStatusText,
  parseStatusXml,
  type StatusFormat,
} from '../../src/status/index.js';
import { loadStatusFixtures } from './fixtures.js';

const fixtures = loadStatusFixtures();
const body = (name: string) => fixtures.find((f) => f.name === name)!.body;
const WRAPPED = '18446744073709551613';

describe('JSON that FPM did not escape', () => {
  const page = body('static/json-full.txt');
  // The last column says whether JSON.parse rejects the page; when it accepts it, it decodes
  // the user wrongly, which is worse.
  const rows: [string, string, string, string, boolean][] = [
    ['a quote in user', '"user":"-"', '"user":"bob"by"', 'bob"by', true],
    ['a trailing backslash in user', '"user":"-"', '"user":"dom\\"', 'dom\\', true],
    ['a backslash before a quote in user', '"user":"-"', '"user":"x\\"}{"', 'x\\"}{', false],
  ];
  for (const [title, from, to, expected, invalid] of rows) {
    it(`${title}: user is kept verbatim and the numbers still parse`, () => {
      const broken = page.replace(from, to);
      if (invalid) expect(() => JSON.parse(broken)).toThrow();
      else expect(JSON.parse(broken).processes[0].user).not.toBe(expected);
      const status = parseStatusJson(broken);
      expect(status.processes![0]!.user).toBe(expected);
      expect(status).toMatchObject({ pool: 'static', acceptedConn: 5, totalProcesses: 3 });
      expect(status.processes!.map((p) => p.pid)).toEqual(
        parseStatusJson(page).processes!.map((p) => p.pid),
      );
    });
  }

  it('a backslash sequence in script is not decoded by JSON.parse (C:\\new stays C:\\new)', () => {
    // Valid JSON, but JSON.parse would turn \n into a newline: FPM never escapes script.
    const page2 = page.replace(
      '"script":"/var/www/fixture-lab/sleep.php"',
      '"script":"/srv/C:\\new\\table.php"',
    );
    expect(() => JSON.parse(page2)).not.toThrow();
    expect(parseStatusJson(page2).processes![0]!.script).toBe('/srv/C:\\new\\table.php');
  });

  it('a quote in the pool name', () => {
    const status = parseStatusJson(page.replace('"pool":"static"', '"pool":"sh"op"'));
    expect(status.pool).toBe('sh"op');
  });

  it('an unescaped query string from FPM before 8.2.7 is kept as printed', () => {
    const old = page.replace(
      /"request uri":"[^,]*sleep\.php[^,]*",/,
      '"request uri":"/x.php?q="a"&p=C:\\d",',
    );
    expect(parseStatusJson(old).processes!.map((p) => p.requestUri)).toContain(
      '/x.php?q="a"&p=C:\\d',
    );
  });
});

describe('hostile pages stay linear', () => {
  // Each of these once made every string scan the rest of the page; a megabyte of it must
  // finish well inside the test timeout.
  it.each([
    [
      'user fields with no script after them',
      `{"processes":[${'{"user":"x"},'.repeat(80_000)}{}]}`,
    ],
    ['an array of strings', `{"pool":[${'"a",'.repeat(250_000)}"a"]}`],
    ['unterminated raw fields', `{"pool":"${'" '.repeat(500_000)}`],
  ])('%s', (_title, page) => {
    expect(() => parseStatusJson(page)).toThrow(FpmkitParseError);
  });

  it.each([
    [
      'xml: openers without closers',
      `<status>${'<pool>x<'.repeat(120_000)}</status>`,
      parseStatusXml,
    ],
    [
      'xml: stray < everywhere',
      `<?xml version="1.0" ?><status>${'<a<b&'.repeat(200_000)}`,
      parseStatusXml,
    ],
    [
      'html: rows that never end',
      `<head><title>PHP-FPM Status Page</title></head><table border="1"><tr><th>pid</th></tr>${'<tr><td>1'.repeat(100_000)}`,
      parseStatusHtml,
    ],
    [
      'text: one huge continuation',
      `pool:                 www\n${'x'.repeat(1_000_000)}\n`,
      parseStatusText,
    ],
  ])('%s', (_title, page, parse) => {
    expect(() => parse(page)).toThrow(FpmkitParseError);
  });
});

describe('request durations near 2^64 (clamping rule)', () => {
  it('clampCounter: wrapped values are 0, impossible ones saturate, the rest are exact', () => {
    expect(clampCounter('18446744073709551615')).toBe(0);
    expect(clampCounter('9223372036854775808')).toBe(0);
    expect(clampCounter('9223372036854775807')).toBe(Number.MAX_SAFE_INTEGER);
    expect(clampCounter('9007199254740993')).toBe(Number.MAX_SAFE_INTEGER);
    expect(clampCounter('9007199254740991')).toBe(9007199254740991);
  });

  const cases: [StatusFormat, string, (s: string) => string][] = [
    [
      'json',
      'static/json-full.txt',
      (s) => s.replace(/"request duration":\d+/, `"request duration":${WRAPPED}`),
    ],
    [
      'text',
      'static/plain-full.txt',
      (s) => s.replace(/request duration: +\d+/, `request duration:     ${WRAPPED}`),
    ],
    [
      'xml',
      'static/xml-full.txt',
      (s) => s.replace(/<request-duration>\d+/, `<request-duration>${WRAPPED}`),
    ],
    [
      'html',
      'static/html-full.txt',
      (s) =>
        s.replace(
          /(<tr><td>\d+<\/td><td>\w+<\/td><td>[^<]+<\/td><td>\d+<\/td><td>\d+<\/td><td>)\d+/,
          `$1${WRAPPED}`,
        ),
    ],
  ];
  for (const [format, name, mutate] of cases) {
    it(`${format}: a wrapped duration becomes 0 and the printed digits are kept in clamped`, () => {
      const page = mutate(body(name));
      expect(page).toContain(WRAPPED);
      const first = parseStatus(page).processes![0]!;
      expect(first.requestDurationMicros).toBe(0);
      expect(first.clamped).toEqual({ requestDurationMicros: WRAPPED });
    });
  }

  it('json: a pool counter past 2^53 is exact-digit checked, not rounded by JSON.parse', () => {
    const page = body('static/json.txt').replace(
      '"start since":',
      '"start since":9007199254740993,"x":',
    );
    const status = parseStatusJson(page);
    expect(status.startSinceSeconds).toBe(Number.MAX_SAFE_INTEGER);
    expect(status.clamped).toEqual({ startSinceSeconds: '9007199254740993' });
  });
});

describe('fields only some versions print (memory peak, 8.4+)', () => {
  const rows: [StatusFormat, string, (s: string) => string][] = [
    [
      'json',
      'static/json.txt',
      (s) => s.replace('"slow requests":0', '"slow requests":0,"memory peak":4194304'),
    ],
    ['text', 'static/plain.txt', (s) => `${s}memory peak:          4194304\n`],
    [
      'xml',
      'static/xml.txt',
      (s) => s.replace('</slow-requests>', '</slow-requests>\n<memory-peak>4194304</memory-peak>'),
    ],
    [
      'html',
      'static/html.txt',
      (s) => s.replace('</table>', '<tr><th>memory peak</th><td>4194304</td></tr>\n</table>'),
    ],
    [
      'openmetrics',
      'static/openmetrics.txt',
      (s) =>
        s.replace('# EOF', '# TYPE phpfpm_memory_peak gauge\nphpfpm_memory_peak 4194304\n# EOF'),
    ],
  ];
  for (const [format, name, add] of rows) {
    it(`${format}: present when printed, absent (not 0) when not`, () => {
      expect(parseStatus(add(body(name))).memoryPeakBytes).toBe(4194304);
      expect('memoryPeakBytes' in parseStatus(body(name))).toBe(false);
    });
  }
});

describe('process states', () => {
  const text = body('static/plain-full.txt');
  for (const state of [...PROCESS_STATES, '(null)']) {
    it(`'${state}' in text and json`, () => {
      const expected = state === '(null)' ? 'Creating' : state;
      const t = parseStatusText(text.replace(/state: +Running/, `state:                ${state}`));
      expect(t.processes![0]!.state).toBe(expected);
      const j = parseStatusJson(
        body('static/json-full.txt').replace('"state":"Running"', `"state":"${state}"`),
      );
      expect(j.processes![0]!.state).toBe(expected);
    });
  }
});

describe('start times', () => {
  it.each([
    ['21/Nov/2026:08:40:21 +0000', '2026-11-21T08:40:21.000Z'],
    ['21/Nov/2026:09:40:21 +0100', '2026-11-21T08:40:21.000Z'],
    ['20/Nov/2026:21:10:21 -1130', '2026-11-21T08:40:21.000Z'],
  ])('%s is %s', (text, iso) => {
    expect(parseFpmLocalTime(text)?.toISOString()).toBe(iso);
  });
  it.each(['21/Foo/2026:08:40:21 +0000', '2026-11-21T08:40:21Z', '32/Nov/2026:08:40:21 +0000', ''])(
    '%j is rejected',
    (text) => expect(parseFpmLocalTime(text)).toBeUndefined(),
  );
  it('text pages in another zone give the same instant as the JSON epoch', () => {
    const shifted = body('static/plain.txt').replace(
      '21/Nov/2026:08:40:21 +0000',
      '21/Nov/2026:10:40:21 +0200',
    );
    expect(parseStatusText(shifted).startTime.getTime()).toBe(
      parseStatusJson(body('static/json.txt')).startTime.getTime(),
    );
  });
});

describe('malformed pages fail with FpmkitParseError', () => {
  const rows: [string, () => unknown][] = [
    ['text: empty', () => parseStatusText('')],
    [
      'text: truncated before the counters',
      () => parseStatusText(body('static/plain.txt').slice(0, 120)),
    ],
    [
      'text: a counter that is not a number',
      () =>
        parseStatusText(
          body('static/plain.txt').replace(/accepted conn: +\d+/, 'accepted conn:        many'),
        ),
    ],
    [
      'text: a negative counter',
      () =>
        parseStatusText(
          body('static/plain.txt').replace(/idle processes: +\d+/, 'idle processes:       -1'),
        ),
    ],
    [
      'text: a bad start time',
      () => parseStatusText(body('static/plain.txt').replace('21/Nov/2026', '2026-11-21')),
    ],
    ['json: empty', () => parseStatusJson('')],
    ['json: an array', () => parseStatusJson('[1,2]')],
    ['json: truncated', () => parseStatusJson(body('static/json-full.txt').slice(0, 400))],
    [
      'json: processes not an array',
      () => parseStatusJson(body('static/json.txt').replace('}', ',"processes":5}')),
    ],
    [
      'json: a string counter',
      () =>
        parseStatusJson(
          body('static/json.txt').replace('"accepted conn":4', '"accepted conn":"x"'),
        ),
    ],
    [
      'json: a missing field',
      () =>
        parseStatusJson(
          body('static/json.txt').replace('"max children reached":0', '"max children":0'),
        ),
    ],
    ['xml: not a status document', () => parseStatusXml('<?xml version="1.0" ?><other/>')],
    ['xml: truncated', () => parseStatusXml(body('static/xml.txt').slice(0, 200))],
    [
      'html: a web server page',
      () =>
        parseStatusHtml(
          '<!DOCTYPE html><html><head><title>Welcome to nginx!</title></head></html>',
        ),
    ],
    [
      'html: a process row with a cell missing',
      () => parseStatusHtml(body('static/html-full.txt').replace('<td>GET</td>', '')),
    ],
    ['openmetrics: no phpfpm_up', () => parseStatusOpenMetrics('# EOF\n')],
    [
      'openmetrics: a sample line that is not one',
      () =>
        parseStatusOpenMetrics(
          body('static/openmetrics.txt').replace(
            'phpfpm_idle_processes 1',
            'phpfpm_idle_processes',
          ),
        ),
    ],
    ['detection: the ping answer', () => parseStatus('pong')],
    ['detection: File not found.', () => parseStatus('File not found.\n')],
  ];
  for (const [title, run] of rows) {
    it(title, () => {
      let error: unknown;
      try {
        run();
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(FpmkitParseError);
      expect(isFpmkitError(error) && error.code).toBe('FPMKIT_PARSE');
    });
  }

  it('names the status path when the body is FPM’s script-not-found answer', () => {
    expect(() => parseStatus('File not found.\n')).toThrow(/pm\.status_path/);
  });

  it('names the web server page it got instead of the status page', () => {
    expect(() =>
      parseStatus('<html><head><title>Welcome to nginx!</title></head></html>', {
        contentType: 'text/html',
      }),
    ).toThrow(/Welcome to nginx!.*pm\.status_path/);
  });
});

describe('XML that breaks the tree', () => {
  it.each([
    [
      'static/xml.txt',
      'a raw < in the pool name',
      (x: string) => x.replace('<pool>static</pool>', '<pool>st<atic</pool>'),
      'st<atic',
    ],
    [
      'static/xml-full.txt',
      'a raw < and & in a script',
      (x: string) =>
        x.replace(
          '<script>/var/www/fixture-lab/sleep.php</script>',
          '<script>/srv/a<b&c.php</script>',
        ),
      'static',
    ],
  ])('%s with %s is read element by element', (name, _title, mutate, pool) => {
    const status = parseStatusXml(mutate(body(name)));
    expect(status.pool).toBe(pool);
    expect(status.acceptedConn).toBe(parseStatusXml(body(name)).acceptedConn);
  });
  it('keeps the raw script text', () => {
    const page = body('static/xml-full.txt').replace(
      '<script>/var/www/fixture-lab/sleep.php</script>',
      '<script>/srv/a<b&c.php</script>',
    );
    expect(parseStatusXml(page).processes!.map((p) => p.script)).toContain('/srv/a<b&c.php');
  });
});

describe('XML with a DOCTYPE', () => {
  it('does not expand entities it defines (FPM never writes one)', () => {
    const page = body('static/xml.txt')
      .replace(
        '<status>',
        '<!DOCTYPE status [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>\n<status>',
      )
      .replace('<pool>static</pool>', '<pool>&b;</pool>');
    expect(parseStatusXml(page).pool).toBe('&b;');
  });
});

describe('unknown fields are ignored (a later FPM may add some)', () => {
  it.each([
    ['text', `${body('static/plain.txt')}new gauge:            7\n`],
    ['json', body('static/json.txt').replace('"pool"', '"new gauge":7,"pool"')],
    ['xml', body('static/xml.txt').replace('<pool>', '<new-gauge>7</new-gauge><pool>')],
    ['openmetrics', body('static/openmetrics.txt').replace('# EOF', 'phpfpm_new_gauge 7\n# EOF')],
  ])('%s', (_format, page) => {
    expect(parseStatus(page).pool).toBe('static');
  });
});
