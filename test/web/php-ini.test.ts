import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FpmkitInvalidOptionError, FpmkitParseError, isFpmkitError } from '../../src/errors.js';
import {
  type PhpIniInput,
  type PhpIniSettings,
  parsePhpIni,
  renderPhpIni,
} from '../../src/web/index.js';
import { phpIniSettingsArb } from './arbitraries.js';

const MIB = 1024 * 1024;

describe('renderPhpIni', () => {
  it('writes one line per set field in PHP units', () => {
    expect(
      renderPhpIni({
        maxExecutionTimeSeconds: 30,
        maxInputTimeSeconds: 'max_execution_time',
        memoryLimitBytes: 256 * MIB,
        postMaxSizeBytes: 'unlimited',
        uploadMaxFilesizeBytes: 1536 * 1024,
        maxFileUploads: 20,
        realpathCacheSizeBytes: 4 * MIB,
        exposePhp: false,
        cgi: { fixPathinfo: false },
        opcache: {
          enable: true,
          memoryConsumptionMegabytes: 256,
          internedStringsBufferMegabytes: 16,
          maxAcceleratedFiles: 20000,
          validateTimestamps: false,
          revalidateFreqSeconds: 0,
          preload: '/srv/app/config/preload.php',
        },
      }),
    ).toBe(
      [
        'max_execution_time = 30',
        'max_input_time = -1',
        'memory_limit = 256M',
        'post_max_size = 0',
        'upload_max_filesize = 1536K',
        'max_file_uploads = 20',
        'realpath_cache_size = 4M',
        'expose_php = 0',
        'cgi.fix_pathinfo = 0',
        'opcache.enable = 1',
        'opcache.memory_consumption = 256',
        'opcache.interned_strings_buffer = 16',
        'opcache.max_accelerated_files = 20000',
        'opcache.validate_timestamps = 0',
        'opcache.revalidate_freq = 0',
        'opcache.preload = "/srv/app/config/preload.php"',
        '',
      ].join('\n'),
    );
  });

  it.each<[string, PhpIniInput, string]>([
    [
      'unlimited execution time',
      { maxExecutionTimeSeconds: 'unlimited' },
      'max_execution_time = 0\n',
    ],
    ['unlimited input time', { maxInputTimeSeconds: 'unlimited' }, 'max_input_time = 0\n'],
    ['unlimited memory', { memoryLimitBytes: 'unlimited' }, 'memory_limit = -1\n'],
    ['odd byte sizes', { uploadMaxFilesizeBytes: 1000 }, 'upload_max_filesize = 1000\n'],
    ['gigabytes', { postMaxSizeBytes: 2 * 1024 * MIB }, 'post_max_size = 2G\n'],
    ['a disabled realpath cache', { realpathCacheSizeBytes: 0 }, 'realpath_cache_size = 0\n'],
    ['nothing', {}, ''],
  ])('renders %s', (_, settings, text) => {
    expect(renderPhpIni(settings)).toBe(text);
  });

  it.each<[string, unknown, string]>([
    ['memory below what PHP needs to start', { memoryLimitBytes: MIB }, 'memoryLimitBytes'],
    ['zero upload size', { uploadMaxFilesizeBytes: 0 }, 'uploadMaxFilesizeBytes'],
    ['fractional seconds', { maxExecutionTimeSeconds: 1.5 }, 'maxExecutionTimeSeconds'],
    [
      'opcache memory below 8 MiB',
      { opcache: { memoryConsumptionMegabytes: 4 } },
      'opcache.memoryConsumptionMegabytes',
    ],
    [
      'interned strings above 4095 MiB',
      { opcache: { internedStringsBufferMegabytes: 4096 } },
      'opcache.internedStringsBufferMegabytes',
    ],
    [
      'too few accelerated files',
      { opcache: { maxAcceleratedFiles: 100 } },
      'opcache.maxAcceleratedFiles',
    ],
    ['a newline in preload', { opcache: { preload: '/a\nexpose_php = 1' } }, 'opcache.preload'],
    ['a quote in preload', { opcache: { preload: '/a"b' } }, 'opcache.preload'],
    ['a variable in preload', { opcache: { preload: '/${HOME}/p.php' } }, 'opcache.preload'],
    ['an unknown key', { opcache: { jit: 'tracing' } }, 'opcache.jit'],
  ])('rejects %s', (_, settings, option) => {
    let error: unknown;
    try {
      renderPhpIni(settings as PhpIniInput);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(FpmkitInvalidOptionError);
    expect((error as FpmkitInvalidOptionError).option).toBe(option);
  });
});

describe('parsePhpIni', () => {
  it('reads a php.ini with sections, comments, constants and quotes', () => {
    const text = [
      '[PHP]',
      '; a comment',
      'expose_php = Off',
      'memory_limit = 256M ; per request',
      'max_execution_time=60',
      'max_input_time = -1',
      'post_max_size = 0',
      'upload_max_filesize = 2g',
      'error_reporting = E_ALL & ~E_DEPRECATED',
      'date.timezone = "Europe/Paris"',
      '[opcache]',
      'opcache.enable = On',
      "opcache.preload = '/srv/app/preload.php'",
      'opcache.validate_timestamps = 0',
      'opcache.enable = 1',
      '[PATH=/srv/other]',
      'memory_limit = 1G',
    ].join('\n');
    const { settings, other } = parsePhpIni(text);
    expect(settings).toEqual<PhpIniSettings>({
      exposePhp: false,
      memoryLimitBytes: 256 * MIB,
      maxExecutionTimeSeconds: 60,
      maxInputTimeSeconds: 'max_execution_time',
      postMaxSizeBytes: 'unlimited',
      uploadMaxFilesizeBytes: 2 * 1024 * MIB,
      opcache: { enable: true, preload: '/srv/app/preload.php', validateTimestamps: false },
    });
    expect(other).toEqual({
      error_reporting: 'E_ALL & ~E_DEPRECATED',
      'date.timezone': 'Europe/Paris',
    });
  });

  it.each<[string, string, number]>([
    ['a line without =', 'memory_limit 128M', 1],
    ['an unterminated quote', 'x = 1\nopcache.preload = "/a', 2],
    ['text after a quoted value', 'opcache.preload = "/a" b', 1],
    ['a bad size', '\nmemory_limit = lots', 2],
    ['a bad integer', 'max_file_uploads = ten', 1],
    ['a bad boolean', 'expose_php = maybe', 1],
    ['a value the model refuses', 'opcache.max_accelerated_files = 10', 1],
    ['an unclosed section', '[PHP', 1],
  ])('rejects %s with the line', (_, text, line) => {
    let error: unknown;
    try {
      parsePhpIni(text, { source: 'conf.d/99-app.ini' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(FpmkitParseError);
    expect((error as FpmkitParseError).line).toBe(line);
    expect((error as FpmkitParseError).source).toBe('conf.d/99-app.ini');
  });

  it('round-trips every valid model', () => {
    fc.assert(
      fc.property(phpIniSettingsArb, (settings) => {
        expect(parsePhpIni(renderPhpIni(settings)).settings).toEqual(settings);
      }),
      { numRuns: 500 },
    );
  });

  it('returns a value or throws an FpmkitError for any input', () => {
    const line = fc.oneof(
      fc.string(),
      fc
        .tuple(
          fc.constantFrom(
            'memory_limit',
            'opcache.enable',
            'max_input_time',
            'x',
            'opcache.preload',
          ),
          fc.string(),
        )
        .map(([k, v]) => `${k} = ${v}`),
    );
    fc.assert(
      fc.property(fc.array(line, { maxLength: 8 }), (lines) => {
        try {
          parsePhpIni(lines.join('\n'));
        } catch (error) {
          expect(isFpmkitError(error), String(error)).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
