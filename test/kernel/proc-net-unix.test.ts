import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FpmkitParseError } from '../../src/errors.js';
import {
  parseProcNetUnix,
  parseSs,
  type UnixListenQueue,
  type UnixSocket,
  unixListenQueues,
} from '../../src/kernel/index.js';
import { FIXTURES, FUZZ_RUNS, fixture, fixtureJson, fuzz, mutatedText } from './helpers.js';

const HEADER = 'Num       RefCount Protocol Flags    Type St Inode Path\n';

describe('parseProcNetUnix', () => {
  const rows: [string, string, UnixSocket[]][] = [
    ['empty input', '', []],
    ['header only', HEADER, []],
    [
      'zeroed kernel address, listener with a path',
      `${HEADER}0000000000000000: 00000002 00000000 00010000 0001 01 27911 /run/php/www.sock\n`,
      [
        {
          refCount: 2,

          flags: 0x10000,
          listening: true,
          type: 1,
          state: 1,
          inode: 27911,
          path: '/run/php/www.sock',
        },
      ],
    ],
    [
      'hashed address, embryo with inode 0 (padded %5lu)',
      `${HEADER}0000000073c5b299: 00000003 00000000 00000000 0001 02     0 /run/php/www.sock\n`,
      [
        {
          refCount: 3,

          flags: 0,
          listening: false,
          type: 1,
          state: 2,
          inode: 0,
          path: '/run/php/www.sock',
        },
      ],
    ],
    [
      'unnamed socket, no trailing newline, no header',
      '00000000fd2b87f3: 00000003 00000000 00000000 0001 03  1612',
      [{ refCount: 3, flags: 0, listening: false, type: 1, state: 3, inode: 1612 }],
    ],
    [
      'abstract name and a path with spaces',
      `${HEADER}0000000000000000: 00000002 00000000 00010000 0001 01 101 @/tmp/.X11-unix/X0\n0000000000000000: 00000002 00000000 00010000 0005 01 102 /srv/my app/php fpm.sock\n`,
      [
        {
          refCount: 2,

          flags: 0x10000,
          listening: true,
          type: 1,
          state: 1,
          inode: 101,
          path: '@/tmp/.X11-unix/X0',
        },
        {
          refCount: 2,

          flags: 0x10000,
          listening: true,
          type: 5,
          state: 1,
          inode: 102,
          path: '/srv/my app/php fpm.sock',
        },
      ],
    ],
    [
      'datagram socket, CRLF line end, blank line',
      `${HEADER}\n0000000000000000: 0000000B 00000000 00000000 0002 01 17 /run/systemd/notify\r\n`,
      [
        {
          refCount: 11,

          flags: 0,
          listening: false,
          type: 2,
          state: 1,
          inode: 17,
          path: '/run/systemd/notify',
        },
      ],
    ],
  ];
  it.each(rows)('%s', (_name, text, expected) => {
    expect(parseProcNetUnix(text)).toEqual(expected);
  });

  const bad: [string, string, number][] = [
    ['truncated row', `${HEADER}0000000000000000: 00000002 00000000 00010000 0001`, 2],
    [
      'no colon after the address',
      `${HEADER}0000000000000000 00000002 00000000 00010000 0001 01 1 /x`,
      2,
    ],
    ['non-hex field', `${HEADER}0000000000000000: 0000000Z 00000000 00010000 0001 01 1 /x`, 2],
    [
      'text glued to the inode',
      `${HEADER}0000000000000000: 00000002 00000000 00010000 0001 01 12x`,
      2,
    ],
    [
      'a colon inside the address',
      `${HEADER}0000000:00000000: 00000003 00000000 00000000 0001 03 1 /x\n`,
      2,
    ],
    [
      'a short line before a row with a 13-digit address',
      `${HEADER}ab\n0000000000000: 00000003 00000000 00000000 0001 03 1 /x`,
      2,
    ],
    [
      'garbage on line 3',
      `${HEADER}0000000000000000: 00000002 00000000 00010000 0001 01 1\nhello`,
      3,
    ],
  ];
  it.each(bad)('rejects %s with the line', (_name, text, line) => {
    try {
      parseProcNetUnix(text);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(FpmkitParseError);
      expect((error as FpmkitParseError).line).toBe(line);
      expect((error as FpmkitParseError).lineText).toBe(text.split('\n')[line - 1]);
    }
  });
});

describe('parseProcNetUnix path reuse', () => {
  // Repeated paths share one string; distinct paths, even of equal length and many more than
  // the reuse cache holds, must each come back as written.
  const row = (inode: number, path: string) =>
    `0000000000000000: 00000003 00000000 00000000 0001 03 ${inode} ${path}`;

  it('keeps thousands of equal-length distinct paths apart', () => {
    const paths = Array.from(
      { length: 5000 },
      (_, i) => `/run/php/p${String(i).padStart(5, '0')}.sock`,
    );
    const text = [...paths, ...paths.slice().reverse()].map((p, i) => row(i + 1, p)).join('\n');
    const parsed = parseProcNetUnix(text).map((r) => r.path);
    expect(parsed).toEqual([...paths, ...paths.slice().reverse()]);
  });

  it('keeps paths that differ only before the hashed tail apart', () => {
    const tail = 'x'.repeat(100);
    const text = [row(1, `/a${tail}`), row(2, `/b${tail}`), row(3, `/a${tail}`)].join('\n');
    expect(parseProcNetUnix(text).map((r) => r.path)).toEqual([
      `/a${tail}`,
      `/b${tail}`,
      `/a${tail}`,
    ]);
  });

  it('builds the same rows for a table past the bulk size (16 MiB), with 3,001 paths, as for a small one', () => {
    const lines = Array.from({ length: 300_000 }, (_, i) =>
      i % 3 === 0 ? row(i + 1, `/run/php/pool-${i % 3001}.sock`) : row(i + 1, '').trimEnd(),
    );
    const big = lines.join('\n');
    expect(big.length).toBeGreaterThan(16 * 1024 * 1024);
    const rows = parseProcNetUnix(big);
    expect(rows).toHaveLength(300_000);
    for (const start of [0, 150_000, 299_000]) {
      const small = parseProcNetUnix(lines.slice(start, start + 1000).join('\n'));
      expect(rows.slice(start, start + 1000)).toStrictEqual(small);
    }
    expect(rows.map((r) => Object.hasOwn(r, 'path')).filter(Boolean)).toHaveLength(100_000);
  });

  it('returns every row when rows are shorter than the size guess (32-bit addresses)', () => {
    const lines = Array.from(
      { length: 5000 },
      (_, i) =>
        `${(i * 7919).toString(16).padStart(8, '0')}: 00000002 00000000 00000000 0001 03 ${i}`,
    );
    const text = `${lines.join('\n')}\n`;
    expect(text.length / lines.length).toBeLessThan(52);
    const rows = parseProcNetUnix(text);
    expect(rows).toHaveLength(5000);
    expect(rows).toEqual(referenceParse(text));
  });

  it('leaves path absent on unnamed rows next to named ones', () => {
    const rows = parseProcNetUnix(
      `${row(1, '/x.sock')}\n${row(2, '').trimEnd()}\n${row(3, '/x.sock')}`,
    );
    expect(rows.map((r) => Object.hasOwn(r, 'path'))).toEqual([true, false, true]);
  });
});

describe('parseProcNetUnix past its 64 KiB byte window', () => {
  // Rows in the kernel's layout are read from a byte copy made 64 KiB at a time; rows that
  // straddle a window, lines longer than one and text beyond Latin-1 take other paths, which
  // must give the same rows, errors and line numbers.
  const row = (inode: number, path: string) =>
    `0000000000000000: 00000003 00000000 00000000 0001 03 ${inode}${path === '' ? '' : ` ${path}`}`;
  const filler = (n: number) =>
    Array.from({ length: n }, (_, i) =>
      row(i + 1, i % 4 === 0 ? '' : `/run/${'p'.repeat(i % 53)}`),
    );

  it('reads a row whose path is longer than a window among ordinary rows', () => {
    const long = `/${'x'.repeat(70_000)}`;
    const text = `${HEADER}${filler(2000).join('\n')}\n${row(9, long)}\n${row(10, '/y')}\n`;
    const rows = parseProcNetUnix(text);
    expect(rows).toHaveLength(2002);
    expect(rows[2000]).toMatchObject({ inode: 9, path: long });
    expect(rows[2001]).toMatchObject({ inode: 10, path: '/y' });
  });

  it('reads text beyond Latin-1 (a path in another script) the same way', () => {
    const lines = filler(3000);
    // U+010A would read as a newline, and U+0130 as '0', from a byte copy of the text.
    lines[2500] = row(7, '/run/php/пул-\u010a.sock');
    // After an unnamed row a bad row is an error; after a named one it is more of the name.
    lines[2601] = '0000000000000000: 0000000\u0130 00000000 00000000 0001 03 1 /x';
    lines[10] = row(8, '/run/php/café.sock');
    expect(() => parseProcNetUnix(`${HEADER}${lines.join('\n')}`)).toThrow(/unix:2603\]/);
    const afterName = lines.slice();
    afterName[2600] = row(2601, '/n');
    const named = parseProcNetUnix(`${HEADER}${afterName.join('\n')}`);
    expect(named).toHaveLength(2999);
    expect(named[2600]!.path).toBe(`/n\n${lines[2601]}`);
    lines.splice(2601, 1);
    const rows = parseProcNetUnix(`${HEADER}${lines.join('\n')}`);
    expect(rows).toEqual(referenceParse(`${HEADER}${lines.join('\n')}`));
    expect(rows[2500]!.path).toBe('/run/php/пул-\u010a.sock');
    expect(rows[10]!.path).toBe('/run/php/café.sock');
  });

  it('names the right line for a bad row several windows in', () => {
    const lines = filler(5000);
    lines[4321] = '0000000000000000: 00000003 0000000Z 00000000 0001 03 1 /x';
    try {
      parseProcNetUnix(`${HEADER}${lines.join('\n')}`);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(FpmkitParseError);
      expect((error as FpmkitParseError).line).toBe(4323);
      expect((error as FpmkitParseError).lineText).toBe(lines[4321]);
    }
  });

  it('agrees with the reference parser on mutations placed anywhere in a large table', () => {
    const seeds = unixDirs.map((d) =>
      fixture('proc-net-unix', d, 'proc-net-unix.txt').replace(/^Num[^\n]*\n/, ''),
    );
    const odd = fc.constantFrom(
      '',
      '\u0130',
      '\u0141',
      '\u0120',
      '\u013a',
      '\u010a',
      '\u00e9',
      '\u00ff',
      '\u0142',
      '\u20ac',
      '\u{1f600}',
      'x'.repeat(70_000),
    );
    fc.assert(
      fc.property(
        fc.nat({ max: 2500 }),
        mutatedText(seeds),
        odd,
        fc.nat(),
        (n, body, extra, at) => {
          let text = `${HEADER}${filler(n).join('\n')}\n${body}`;
          const p = at % (text.length + 1);
          text = text.slice(0, p) + extra + text.slice(p);
          let expected: UnixSocket[] | number;
          try {
            expected = referenceParse(text);
          } catch (e) {
            expected = (e as FpmkitParseError).line!;
          }
          let actual: UnixSocket[] | number;
          try {
            actual = parseProcNetUnix(text);
          } catch (e) {
            expect(e).toBeInstanceOf(FpmkitParseError);
            actual = (e as FpmkitParseError).line!;
          }
          expect(actual).toEqual(expected);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('names that hold newlines (the kernel prints them raw)', () => {
  const row = (inode: number, rest: string) =>
    `0000000000000000: 00000002 00000000 00010000 0001 01 ${inode}${rest}`;
  const pool = (inode: number) =>
    `${row(inode, ' /run/php/www.sock')}\n0000000000000000: 00000003 00000000 00000000 0001 02     0 /run/php/www.sock\n`;
  const cases: [string, string, string | undefined][] = [
    ['one newline', `${row(1, ' /tmp/a')}\nb.sock\n`, '/tmp/a\nb.sock'],
    ['a name that starts with a newline', `${row(1, ' ')}\nrest\n`, '\nrest'],
    ['an empty line inside the name', `${row(1, ' /tmp/two')}\n\nlines\n`, '/tmp/two\n\nlines'],
    ['a CR inside the name', `${row(1, ' /tmp/a\r')}\nb\n`, '/tmp/a\r\nb'],
    [
      'a line with a colon and hex fields of other widths',
      `${row(1, ' x')}\n1: 2 3 4 5 6 7\n`,
      'x\n1: 2 3 4 5 6 7',
    ],
    ['an abstract name', `${row(1, ' @abstract')}\nname\n`, '@abstract\nname'],
    [
      'exactly 108 characters',
      `${row(1, ` /${'a'.repeat(50)}`)}\n${'b'.repeat(56)}\n`,
      `/${'a'.repeat(50)}\n${'b'.repeat(56)}`,
    ],
  ];
  it.each(cases)(
    '%s: the name comes out whole, the pool beside it keeps its queue',
    (_n, odd, name) => {
      for (const text of [`${HEADER}${odd}${pool(2)}`, `${HEADER}${pool(2)}${odd}`]) {
        const rows = parseProcNetUnix(text);
        expect(rows.find((r) => r.inode === 1)?.path).toBe(name);
        expect(rows).toHaveLength(3);
        const queues = unixListenQueues(text);
        expect(queues).toEqual(unixListenQueues(rows));
        expect(queues.find((q) => q.path === '/run/php/www.sock')).toMatchObject({
          inode: 2,
          queued: 1,
        });
        expect(queues.find((q) => q.inode === 1)?.path).toBe(name);
      }
    },
  );

  it('reads the capture: every listener, each name whole', () => {
    const text = fixture('proc-net-unix', 'newline-names', 'proc-net-unix.txt');
    const rows = parseProcNetUnix(text);
    const named = rows.filter((r) => r.listening).map((r) => [r.inode, r.path]);
    expect(named).toEqual([
      [572844, '/tmp/fpmkit-nl/pool.sock'],
      [572845, '/tmp/fpmkit-nl/a\nb.sock'],
      [572846, '\nstarts-with-newline'],
      [572847, '/tmp/fpmkit-nl/two\n\nlines'],
      // A name line in the kernel's layout is taken for a row: a row is never folded into the
      // name above it, so a real socket cannot be hidden that way (the price: a name that
      // prints such a line is cut there, and the line reads as a socket of its own).
      [572849, 'x'],
      [4242, '@forged'],
      [572850, `@abstract\nname${'@'.repeat(94)}`],
    ]);
    expect(rows).toHaveLength(9);
    expect(unixListenQueues(text)).toEqual(unixListenQueues(rows));
    expect(unixListenQueues(text).find((q) => q.path === '/tmp/fpmkit-nl/pool.sock')).toMatchObject(
      {
        inode: 572844,
        queued: 0,
        accepted: 1,
      },
    );
  });

  it('rejects what the kernel cannot print: a name past 108 characters, more lines after an unnamed row', () => {
    const long = `${HEADER}${row(1, ` /${'a'.repeat(50)}`)}\n${'b'.repeat(57)}\n`;
    expect(() => parseProcNetUnix(long)).toThrow(FpmkitParseError);
    expect(() => unixListenQueues(long)).toThrow(FpmkitParseError);
    expect(() => parseProcNetUnix(`${HEADER}${row(1, '')}\nb.sock\n`)).toThrow(/unix:3\]/);
    expect(() => parseProcNetUnix(`${HEADER}oops\n${row(1, ' /x')}\n`)).toThrow(/unix:2\]/);
  });

  it('round-trips any names with newlines, printed as the kernel prints them, beside other rows', () => {
    // Lines of a name never have the kernel's row layout here (no colon), and no name ends in a
    // newline or CR (those read as blank lines and CR line ends).
    const name = fc
      .string({
        unit: fc.constantFrom('a', '/', '.', ' ', '@', '\n', 'é', 'п', '-'),
        minLength: 1,
        maxLength: 108,
      })
      .filter((n) => !n.endsWith('\n'));
    fc.assert(
      fc.property(fc.array(fc.tuple(name, fc.boolean(), fc.nat(3)), { maxLength: 20 }), (specs) => {
        const lines: string[] = [];
        const expected: UnixSocket[] = [];
        specs.forEach(([path, listening, queued], i) => {
          const flags = listening ? 0x10000 : 0;
          lines.push(
            `0000000000000000: 00000002 00000000 ${flags.toString(16).toUpperCase().padStart(8, '0')} 0001 01 ${String(i + 1).padStart(5)} ${path}`,
          );
          expected.push({ refCount: 2, flags, listening, type: 1, state: 1, inode: i + 1, path });
          for (let k = 0; k < queued; k++) {
            lines.push(`0000000000000000: 00000003 00000000 00000000 0001 02     0 ${path}`);
            expected.push({
              refCount: 3,
              flags: 0,
              listening: false,
              type: 1,
              state: 2,
              inode: 0,
              path,
            });
          }
        });
        const text = `${HEADER}${lines.map((l) => `${l}\n`).join('')}`;
        const rows = parseProcNetUnix(text);
        expect(rows).toEqual(expected);
        expect(rows).toEqual(referenceParse(text));
        expect(unixListenQueues(text)).toEqual(unixListenQueues(expected));
      }),
      { numRuns: 500 },
    );
  });
});

describe('unixListenQueues', () => {
  it('counts embryos (state 02) and accepted rows (state 03) by the listener path', () => {
    const text = `${HEADER}0000000000000000: 00000002 00000000 00010000 0001 01 10 /a.sock
0000000000000000: 00000003 00000000 00000000 0001 02     0 /a.sock
0000000000000000: 00000003 00000000 00000000 0001 02     0 /a.sock
0000000000000000: 00000003 00000000 00000000 0001 03 11 /a.sock
0000000000000000: 00000003 00000000 00000000 0001 03 12
0000000000000000: 00000002 00000000 00010000 0001 01 20 @abstract
0000000000000000: 00000003 00000000 00000000 0001 02     0 @abstract
0000000000000000: 00000002 00000000 00000000 0002 01 30 /dgram.sock
0000000000000000: 00000003 00000000 00000000 0001 02     0 /no-listener.sock
`;
    expect(unixListenQueues(text)).toEqual([
      { path: '/a.sock', abstract: false, inode: 10, queued: 2, accepted: 1, ambiguous: false },
      { path: '@abstract', abstract: true, inode: 20, queued: 1, accepted: 0, ambiguous: false },
    ]);
  });

  it('marks listeners that share a path as ambiguous', () => {
    const text = `0000000000000000: 00000002 00000000 00010000 0001 01 10 /a.sock
0000000000000000: 00000002 00000000 00010000 0001 01 11 /a.sock
0000000000000000: 00000003 00000000 00000000 0001 02     0 /a.sock
`;
    const queues = unixListenQueues(parseProcNetUnix(text));
    expect(queues.map((q) => [q.inode, q.queued, q.ambiguous])).toEqual([
      [10, 1, true],
      [11, 1, true],
    ]);
  });
});

interface UnixMeta {
  socket: string;
  backlog: number;
  queued_observed_in_ss: number;
  ss_send_q: number;
  proc_net_unix_lines_for_this_socket_and_its_clients: {
    listener: number;
    queued_unaccepted_inode0: number;
    accepted_server_side: number;
    client_not_connected_blocked_in_connect: number;
  };
}

const unixDirs = readdirSync(join(FIXTURES, 'proc-net-unix')).filter((d) => d.startsWith('unix-'));

describe('captured /proc/net/unix fixtures parse to the values in their meta.json', () => {
  it('has the four captures', () => {
    expect(unixDirs.sort()).toEqual([
      'unix-drained',
      'unix-idle',
      'unix-saturated',
      'unix-saturated-t4.5',
    ]);
  });
  it.each(unixDirs)('%s', (dir) => {
    const meta = fixtureJson<UnixMeta>('proc-net-unix', dir, 'meta.json');
    const counts = meta.proc_net_unix_lines_for_this_socket_and_its_clients;
    const text = fixture('proc-net-unix', dir, 'proc-net-unix.txt');
    const sockets = parseProcNetUnix(text);
    expect(sockets).toHaveLength(text.trimEnd().split('\n').length - 1);
    const listeners = sockets.filter((s) => s.listening && s.path === meta.socket);
    expect(listeners).toHaveLength(counts.listener);
    const queue = unixListenQueues(sockets).find((q) => q.path === meta.socket)!;
    expect(queue.queued).toBe(counts.queued_unaccepted_inode0);
    expect(queue.queued).toBe(meta.queued_observed_in_ss);
    expect(queue.accepted).toBe(counts.accepted_server_side);
    // These filtered captures hold no other path-less, unconnected stream sockets than the
    // clients blocked in connect() on the full queue.
    const blocked = sockets.filter(
      (s) => !s.listening && s.path === undefined && s.state === 1 && s.type === 1,
    );
    expect(blocked).toHaveLength(counts.client_not_connected_blocked_in_connect);

    // The same instant through ss: Recv-Q is the queue, Send-Q the backlog, for every listener.
    for (const file of ['ss-xl.txt', 'ss-xlp.txt']) {
      const ss = parseSs(fixture('proc-net-unix', dir, file));
      const row = ss.find((r) => r.localAddress === meta.socket)!;
      expect(row.state).toBe('LISTEN');
      expect(row.recvQ).toBe(meta.queued_observed_in_ss);
      expect(row.sendQ).toBe(meta.ss_send_q);
      for (const q of unixListenQueues(sockets)) {
        const match = ss.find((r) => r.localAddress === q.path);
        if (match) expect([q.path, match.recvQ]).toEqual([q.path, q.queued]);
      }
    }
  });
});

/**
 * A slow, obviously-correct reading of the same format, to check the fast scanner against. A
 * line that is not a row in the kernel's fixed layout, after a row with a name, is more of that
 * name (the kernel prints names raw, newlines included) while the name fits in 108 characters.
 */
function referenceParse(text: string): UnixSocket[] {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const out: UnixSocket[] = [];
  let owner: { row: UnixSocket; line: number; first: string } | undefined;
  lines.forEach((raw, i) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if ((i === 0 && text.startsWith('Num')) || line === '') return;
    const m =
      /^[^:]+: +([0-9A-Fa-f]{1,12}) +([0-9A-Fa-f]{1,12}) +([0-9A-Fa-f]{1,12}) +([0-9A-Fa-f]{1,12}) +([0-9A-Fa-f]{1,12}) +(\d{1,15})(?: (.+)| )?$/s.exec(
        line,
      );
    const fixed =
      /^[^:]+: [0-9A-Fa-f]{8} [0-9A-Fa-f]{8} [0-9A-Fa-f]{8} [0-9A-Fa-f]{4} [0-9A-Fa-f]{2} ./s.test(
        line,
      );
    if (!(m && fixed) && owner) {
      const name = [owner.first, ...lines.slice(owner.line + 1, i), line].join('\n');
      if (name.length <= 108) {
        owner.row.path = name;
        return;
      }
    }
    if (!m) throw new FpmkitParseError('bad row', { line: i + 1 });
    const flags = Number.parseInt(m[3]!, 16);
    const row: UnixSocket = {
      refCount: Number.parseInt(m[1]!, 16),
      flags,
      listening: (flags & 0x10000) !== 0,
      type: Number.parseInt(m[4]!, 16),
      state: Number.parseInt(m[5]!, 16),
      inode: Number(m[6]),
    };
    if (m[7] !== undefined) row.path = m[7];
    out.push(row);
    // The name as printed on this line (CR included): the next lines may carry more of it.
    const named = m[7] !== undefined || line.endsWith(' ');
    owner = named
      ? { row, line: i, first: raw.slice(line.length - (m[7]?.length ?? 0)) }
      : undefined;
  });
  return out;
}

describe('fuzzing', () => {
  it('agrees with a slow reference parser on 10,000 mutations (same rows, or both reject)', () => {
    const seeds = unixDirs.map((d) => fixture('proc-net-unix', d, 'proc-net-unix.txt'));
    fc.assert(
      fc.property(mutatedText(seeds), (text) => {
        let expected: UnixSocket[] | 'error';
        try {
          expected = referenceParse(text);
        } catch {
          expected = 'error';
        }
        let actual: UnixSocket[] | 'error';
        try {
          actual = parseProcNetUnix(text);
        } catch (e) {
          expect(e).toBeInstanceOf(FpmkitParseError);
          actual = 'error';
        }
        expect(actual).toEqual(expected);
      }),
      { numRuns: FUZZ_RUNS },
    );
  });

  it('the text path of unixListenQueues agrees with the row path on 10,000 mutations', () => {
    const seeds = unixDirs.map((d) => fixture('proc-net-unix', d, 'proc-net-unix.txt'));
    fc.assert(
      fc.property(mutatedText(seeds), (text) => {
        let rows: UnixListenQueue[] | string;
        try {
          rows = unixListenQueues(parseProcNetUnix(text));
        } catch (e) {
          rows = String(e);
        }
        let direct: UnixListenQueue[] | string;
        try {
          direct = unixListenQueues(text);
        } catch (e) {
          direct = String(e);
        }
        expect(direct).toEqual(rows);
      }),
      { numRuns: FUZZ_RUNS },
    );
  });

  it('any mutation of the captures yields rows or an FpmkitParseError with the line', () => {
    const seeds = unixDirs.map((d) => fixture('proc-net-unix', d, 'proc-net-unix.txt'));
    fuzz(seeds, (t) => unixListenQueues(parseProcNetUnix(t)));
  });
});
