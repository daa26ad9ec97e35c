import { describe, expect, it } from 'vitest';
import { FpmkitInvalidOptionError, FpmkitParseError } from '../../src/errors.js';
import { parseFpmConfig } from '../../src/fpm/parse.js';
import {
  FPM_IDENTITY_DIRECTIVES,
  fpmEditsToMatch,
  parseFpmTarget,
} from '../../src/host/apply-from.js';

const RUNNING = parseFpmConfig(
  [
    '[global]',
    'error_log = /var/log/fpm.log',
    '[www]',
    'user = www-data',
    'listen = /run/php/www.sock',
    'pm = dynamic',
    'pm.max_children = 5',
    'pm.start_servers = 2',
    'pm.min_spare_servers = 1',
    'pm.max_spare_servers = 3',
    'pm.process_idle_timeout = 10',
    'php_admin_value[memory_limit] = 128M',
    '',
  ].join('\n'),
  { path: '/etc/php-fpm.conf' },
);

const target = (text: string) => parseFpmTarget(text, 'plan.conf', 'from');

describe('fpmEditsToMatch', () => {
  it('edits only what the target writes and what differs in effect', () => {
    const { edits, skipped } = fpmEditsToMatch(
      RUNNING,
      target(
        '[global]\nprocess_control_timeout = 30s\n[www]\npm = dynamic\npm.max_children = 9\npm.process_idle_timeout = 10s\nphp_admin_value[memory_limit] = 256M\nphp_value[precision] = 14\n',
      ),
    );
    expect(skipped).toEqual([]);
    expect(edits).toEqual([
      { section: 'global', directive: 'process_control_timeout', value: '30s' },
      { section: 'www', directive: 'pm.max_children', value: '9' },
      { section: 'www', directive: 'php_value[precision]', value: '14' },
      { section: 'www', directive: 'php_admin_value[memory_limit]', value: '256M' },
    ]);
  });

  it('maps a target pool to a running one and leaves skipped directives alone, saying so', () => {
    const { edits, skipped } = fpmEditsToMatch(
      RUNNING,
      target(
        '[shop]\nuser = shop\nlisten = /run/php/shop.sock\npm = static\npm.max_children = 5\n',
      ),
      { pools: { shop: 'www' }, skip: FPM_IDENTITY_DIRECTIVES },
    );
    expect(edits).toEqual([{ section: 'www', directive: 'pm', value: 'static' }]);
    expect(skipped.map((s) => `${s.section} ${s.directive} ${s.value}`)).toEqual([
      'www user shop',
      'www listen /run/php/shop.sock',
    ]);
  });

  it('keeps the edits of a pool the host does not run, for apply to refuse by name', () => {
    const { edits } = fpmEditsToMatch(
      RUNNING,
      target('[shop]\npm = static\npm.max_children = 4\n'),
    );
    expect(edits.map((e) => e.section)).toEqual(['shop', 'shop']);
  });

  it('refuses a target FPM cannot load, naming the file and line', () => {
    expect(() => target('[www]\nlisten = "x\n')).toThrow(FpmkitParseError);
    expect(() => target('[www]\nlisten = "x\n')).toThrow(/plan\.conf:2/);
    // A load error FPM reports (an include it cannot read) names the option and the file.
    expect(() => target('[www]\ninclude = /nonexistent/*.conf\npm = static\n')).toThrow(
      FpmkitInvalidOptionError,
    );
    // What only `php-fpm -t` refuses is left to apply's validation of the staged files.
    expect(target('[www]\npm = static\npm.max_children = 0\n').config.pools).toHaveLength(1);
  });
});
