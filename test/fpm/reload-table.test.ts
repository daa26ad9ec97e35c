import { describe, expect, it } from 'vitest';
import { fpmDirectives } from '../../src/fpm/directives.js';
import {
  FPM_RELOAD_DIRECTIVES,
  FPM_RESTART_DIRECTIVES,
  fpmApplyActionFor,
  fpmApplyActionForChanges,
} from '../../src/fpm/reload-table.js';

const rows = [...FPM_RESTART_DIRECTIVES, ...FPM_RELOAD_DIRECTIVES];
const covered = (name: string) =>
  rows.some((r) =>
    r.directive.endsWith('*') || r.directive.endsWith('[')
      ? name.startsWith(r.directive.replace(/\*$/, ''))
      : name === r.directive,
  );

describe('the reload/restart table', () => {
  it('has a row for every listen*, pm.*, rlimit_* directive and the others it must name', () => {
    const names = fpmDirectives.map((d) => d.name);
    const wanted = names.filter(
      (n) => n.startsWith('listen') || n === 'pm' || n.startsWith('pm.') || n.startsWith('rlimit_'),
    );
    expect(wanted.length).toBeGreaterThan(15);
    wanted.push(
      'user',
      'group',
      'process_control_timeout',
      'events.mechanism',
      'pm.status_listen',
      'php_admin_value[memory_limit]',
      'daemonize',
    );
    expect(wanted.filter((n) => !covered(n))).toEqual([]);
  });

  it('says restart for what an inherited socket keeps, reload for the rest', () => {
    for (const d of ['listen.backlog', 'listen.owner', 'listen.group', 'listen.mode'])
      expect(fpmApplyActionFor(d)).toBe('restart');
    for (const d of ['listen.acl_users', 'listen.acl_groups', 'daemonize'])
      expect(fpmApplyActionFor(d)).toBe('restart');
    for (const d of ['listen', 'listen.allowed_clients', 'pm.max_children', 'user'])
      expect(fpmApplyActionFor(d)).toBe('reload');
    expect(fpmApplyActionFor('PHP_ADMIN_VALUE[memory_limit]')).toBe('reload');
    expect(fpmApplyActionFor('catch_workers_output')).toBe('reload');
  });

  it('needs only a reload when the same pool gets a new listen address', () => {
    const backlog = { section: 'www', directive: 'listen.backlog' };
    expect(fpmApplyActionForChanges([backlog])).toBe('restart');
    expect(fpmApplyActionForChanges([backlog, { section: 'WWW', directive: 'listen' }])).toBe(
      'reload',
    );
    expect(fpmApplyActionForChanges([backlog, { section: 'other', directive: 'listen' }])).toBe(
      'restart',
    );
  });
});
