import fc from 'fast-check';

/**
 * The random single-file configurations of the differential tests: valid and invalid, for every
 * pm mode and every directive FPM validates. `@DIR@` stands for a scratch directory that exists;
 * /nonexistent does not.
 */
export type Line = string | undefined;
/**
 * A directive line: absent, a valid value, or (rarely) an invalid one, so that about as many
 * configurations pass as fail and every check gets exercised.
 */
const line = (
  name: string,
  valid: readonly string[],
  invalid: readonly string[] = [],
  absent = 50,
): fc.Arbitrary<Line> =>
  fc.oneof(
    { weight: absent, arbitrary: fc.constant(undefined) },
    { weight: 150, arbitrary: fc.constantFrom(...valid).map((v) => `${name} = ${v}`) },
    ...(invalid.length > 0
      ? [{ weight: 1, arbitrary: fc.constantFrom(...invalid).map((v) => `${name} = ${v}`) }]
      : []),
  );
const rare = (text: string) =>
  fc.oneof(
    { weight: 60, arbitrary: fc.constant<Line>(undefined) },
    { weight: 1, arbitrary: fc.constant<Line>(text) },
  );

const globalLines = fc.tuple(
  fc.oneof(
    { weight: 40, arbitrary: fc.constant('error_log = @DIR@/fpm.log') },
    { weight: 1, arbitrary: fc.constant('error_log = /nonexistent/dir/fpm.log') },
  ),
  line('log_level', ['notice', 'debug', 'warning', 'warn', 'ERROR', 'alert'], ['bogus']),
  line('log_limit', ['1024', '512', '4096'], ['511', '-1', 'abc']),
  line('emergency_restart_threshold', ['0', '10'], ['x']),
  line('emergency_restart_interval', ['1m', '30s', '5ms', '1.5m'], ['10S', '""']),
  line('process_control_timeout', ['0', '10s', '2m', '-5', '1h', '2d'], ['3M']),
  line('process.max', ['0', '128'], ['-1', '+5']),
  line('process.priority', ['-19', '0', '20'], ['21', '-20']),
  line('daemonize', ['yes', 'no', 'On', '"yes"'], ['maybe', '"Yes"']),
  line('rlimit_files', ['0', '1024', '-1'], ['10k']),
  line('rlimit_core', ['0', 'unlimited', 'UNLIMITED'], ['-1']),
  line('events.mechanism', ['epoll'], ['kqueue', 'poll', 'select']),
  line('syslog.facility', ['daemon', 'LOCAL0'], ['local9']),
  line('systemd_interval', ['10s', '0', '5m']),
  line('log_buffering', ['no', 'yes']),
  rare('max_workers = 5'),
);

const poolLines = (name: string, other: string) =>
  fc.tuple(
    fc.constant<Line>(`[${name}]`),
    line('user', ['www-data', 'nobody', '"www-data"'], ['nosuchuser'], 4),
    line('group', ['www-data', 'nogroup'], ['nosuchgroup']),
    fc.oneof(
      { weight: 30, arbitrary: fc.constant<Line>(`listen = @DIR@/${name}.sock`) },
      {
        weight: 5,
        arbitrary: fc.constant<Line>(`listen = 127.0.0.1:${name.length * 1000 + 19000}`),
      },
      { weight: 3, arbitrary: fc.constant<Line>(`listen = ${name}.sock`) },
      {
        weight: 1,
        arbitrary: fc.constantFrom<Line>(undefined, 'listen = ""', `listen = @DIR@/${other}.sock`),
      },
    ),
    line('listen.backlog', ['-1', '511', '8', '-5'], ['x']),
    line('listen.owner', ['www-data'], ['nosuchuser'], 80),
    line('listen.group', ['www-data'], ['nosuchgroup'], 80),
    line('listen.mode', ['0660', '660', '0899', 'rw']),
    line('listen.allowed_clients', ['127.0.0.1', '300.1.1.1'], [], 20),
    fc.oneof(
      {
        weight: 30,
        arbitrary: fc.constantFrom<Line>(
          'pm = static',
          'pm = dynamic',
          'pm = ondemand',
          'pm = Dynamic',
        ),
      },
      { weight: 1, arbitrary: fc.constantFrom<Line>(undefined, 'pm = auto') },
    ),
    line('pm.max_children', ['5', '10'], ['0', '-1', 'x', '1'], 4),
    line('pm.start_servers', ['0', '2', '3'], ['1', '8']),
    line('pm.min_spare_servers', ['1', '2'], ['0', '4', '6'], 8),
    line('pm.max_spare_servers', ['3', '5'], ['0', '2', '8'], 8),
    line('pm.max_spawn_rate', ['1', '32'], ['0']),
    line('pm.process_idle_timeout', ['10s', '1m'], ['0', '-1', '5x']),
    line('pm.max_requests', ['0', '500', '-1']),
    line('pm.status_path', ['/status', '"/a_b-c.d~"', '""'], ['status', '/', '/st?x', '/a_b-c.d~']),
    line('pm.status_listen', [`@DIR@/${name}-status.sock`], ['""'], 40),
    line('ping.path', ['/ping'], ['ping', '/', '/p!ng', '"/p!ng"']),
    line('ping.response', ['pong', 'yes'], ['""']),
    line('slowlog', ['@DIR@/slow.log'], ['/nonexistent/dir/slow.log']),
    line('request_slowlog_timeout', ['0'], ['-1', '5s', '60']),
    line('request_terminate_timeout', ['0', '30s', '2m', '10']),
    line('request_slowlog_trace_depth', ['0'], ['-1', '20']),
    line('access.log', ['@DIR@/access.log'], ['/nonexistent/dir/access.log'], 20),
    line(
      'access.format',
      ['"%R %s"', '"%{seconds}d"', '"%{mega}M %{HTTP_HOST}e"'],
      ['"%R %Z"', '"%{foo}d"', '"%e"'],
      20,
    ),
    line('chdir', ['/', '/tmp'], ['var/www', '/nonexistent'], 20),
    line('chroot', ['@DIR@'], ['/nonexistent'], 40),
    line('prefix', ['@DIR@'], ['/nonexistent'], 40),
    line('catch_workers_output', ['yes', 'no', '"no"'], ['maybe', '"Yes"']),
    line('process.priority', ['0'], ['21']),
    line('php_value[memory_limit]', ['128M', '"256M"']),
    line('php_flag[display_errors]', ['off'], ['maybe']),
    line('env[FOO]', ['bar', '$PATH'], ['""']),
    rare('php_admin_value[] = x'),
    rare('pm.max_childs = 5'),
    line('security.limit_extensions', ['.php', '""', '".php .php8"']),
    line('request_terminate_timeout_track_finished', ['yes'], ['bogus']),
    rare('# comment'),
  );

export const configArb = fc
  .tuple(
    globalLines,
    fc.oneof(
      { weight: 1, arbitrary: fc.constant(0) },
      { weight: 30, arbitrary: fc.integer({ min: 1, max: 3 }) },
    ),
    poolLines('www', 'api'),
    poolLines('api', 'www'),
    poolLines('shop', 'www'),
  )
  .map(([g, count, a, b, c]) => {
    const pools = [a, b, c].slice(0, count);
    const sections = ['[global]', ...g, ...pools.flat()].filter(
      (l): l is string => l !== undefined,
    );
    return `${sections.join('\n')}\n`;
  });
