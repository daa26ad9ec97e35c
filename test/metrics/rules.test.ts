import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FpmkitInvalidOptionError } from '../../src/errors.js';
import {
  DASHBOARD_PANELS,
  renderAlertRules,
  renderGrafanaDashboard,
} from '../../src/metrics/index.js';
import { requireBinary } from '../support/integration.js';
import { run } from '../support/process.js';

const promtool = requireBinary('promtool', 'prometheus');
const L = 'instance="h:9253",job="fpmkit",pool="www",listen="/run/php/www.sock"';
const AL = { instance: 'h:9253', job: 'fpmkit', pool: 'www', listen: '/run/php/www.sock' };

const ANNOTATIONS: Record<string, Record<string, string>> = {
  FpmPoolDown: {
    summary: 'www (/run/php/www.sock) does not answer its status page',
    description:
      'fpm_scrape_error gives the reason (timeout, eagain, connect, refused, misconfigured, protocol).',
  },
  FpmExporterDown: { summary: 'fpmkit exporter h:9253 is down' },
  FpmMaxChildrenReached: {
    summary: 'www hit pm.max_children',
    description:
      'The process manager wanted more workers than pm.max_children allows; requests waited in the accept queue.',
  },
  FpmSaturationSustained: {
    summary: 'www has run at 95% of pm.max_children',
    description:
      'Sustained saturation leaves no headroom for a burst: plan the pool again (fpmkit plan).',
  },
  FpmBacklogDrift: {
    summary: 'Backlog of www changed 1 time(s) within the hour',
    description:
      'listen.backlog or net.core.somaxconn changed on a restart; check that the change was meant.',
  },
  FpmReload502Risk: {
    summary: 'www restarted while its accept queue filled',
    description:
      'During a reload FPM accepts nothing until the new workers start; connections pile up in the backlog and overflow into 502s.',
  },
};

/** The expected alert of one rule for the `www` pool. */
function expected(alertname: string, severity: string, labels: Record<string, string> = AL) {
  return [{ exp_labels: { ...labels, severity }, exp_annotations: ANNOTATIONS[alertname] }];
}

/** promtool's unit-test file: input series and the alerts expected at given times. */
const UNIT_TESTS = {
  rule_files: ['rules.yml'],
  evaluation_interval: '15s',
  tests: [
    {
      interval: '15s',
      input_series: [
        { series: `fpm_listen_queue_connections{${L}}`, values: '0 5x10' },
        { series: `fpm_listen_backlog_connections{${L}}`, values: '4x10' },
        { series: `fpm_listen_queue_connections{${L.replace('www', 'quiet')}}`, values: '2x10' },
        { series: `fpm_listen_backlog_connections{${L.replace('www', 'quiet')}}`, values: '4x10' },
      ],
      alert_rule_test: [
        { eval_time: '30s', alertname: 'FpmAcceptQueueNearCapacity', exp_alerts: [] },
        {
          eval_time: '1m',
          alertname: 'FpmAcceptQueueNearCapacity',
          exp_alerts: [
            {
              exp_labels: { ...AL, severity: 'page' },
              exp_annotations: {
                summary: 'Accept queue of www (/run/php/www.sock) is 125% full',
                description:
                  'Once the backlog is full, nginx gets EAGAIN (UNIX sockets) or SYNs are dropped (TCP) and clients see 502/504. Add workers or raise listen.backlog and net.core.somaxconn.',
              },
            },
          ],
        },
      ],
    },
    {
      interval: '1m',
      input_series: [
        { series: `fpm_up{${L}}`, values: '1 0 0 0' },
        { series: `up{instance="h:9253",job="fpmkit"}`, values: '0 0 0 0' },
        { series: `fpm_max_children_reached_total{${L}}`, values: '0 0 1 1' },
        { series: `fpm_saturation_ratio{${L}}`, values: '0.95x20' },
        { series: `fpm_listen_backlog_connections{${L}}`, values: '128 128 4096 4096' },
        { series: `fpm_restarts_observed_total{${L}}`, values: '0 0 1 1' },
        { series: `fpm_listen_queue_connections{${L}}`, values: '0 0 3000 3000' },
      ],
      alert_rule_test: [
        {
          eval_time: '3m',
          alertname: 'FpmPoolDown',
          exp_alerts: expected('FpmPoolDown', 'page'),
        },
        {
          eval_time: '1m',
          alertname: 'FpmExporterDown',
          exp_alerts: expected('FpmExporterDown', 'page', { instance: 'h:9253', job: 'fpmkit' }),
        },
        {
          eval_time: '3m',
          alertname: 'FpmMaxChildrenReached',
          exp_alerts: expected('FpmMaxChildrenReached', 'ticket'),
        },
        { eval_time: '5m', alertname: 'FpmSaturationSustained', exp_alerts: [] },
        {
          eval_time: '15m',
          alertname: 'FpmSaturationSustained',
          exp_alerts: expected('FpmSaturationSustained', 'ticket'),
        },
        {
          eval_time: '3m',
          alertname: 'FpmBacklogDrift',
          exp_alerts: expected('FpmBacklogDrift', 'ticket'),
        },
        {
          eval_time: '3m',
          alertname: 'FpmReload502Risk',
          exp_alerts: expected('FpmReload502Risk', 'page'),
        },
        { eval_time: '1m', alertname: 'FpmReload502Risk', exp_alerts: [] },
      ],
    },
  ],
};

describe.skipIf(!promtool.available)(`renderAlertRules with promtool${promtool.reason}`, () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fpmkit-rules-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('passes promtool check rules and the unit tests of every alert', async () => {
    await writeFile(join(dir, 'rules.yml'), renderAlertRules());
    // JSON is YAML, so the unit-test file is written as JSON.
    await writeFile(join(dir, 'tests.yml'), JSON.stringify(UNIT_TESTS, null, 2));
    const check = await run('promtool', ['check', 'rules', join(dir, 'rules.yml')]);
    console.log(check.output.trim());
    expect(check.exitCode).toBe(0);
    expect(check.output).toContain('SUCCESS: 10 rules found');
    const test = await run('promtool', ['test', 'rules', join(dir, 'tests.yml')], { cwd: dir });
    console.log(test.output.trim());
    expect(test.exitCode, test.output).toBe(0);
  });

  it('a rule that should not fire is caught by the unit tests (the tests can fail)', async () => {
    await writeFile(join(dir, 'rules.yml'), renderAlertRules({ acceptQueueRatio: 2 }));
    await writeFile(join(dir, 'tests.yml'), JSON.stringify(UNIT_TESTS, null, 2));
    const test = await run('promtool', ['test', 'rules', join(dir, 'tests.yml')], { cwd: dir });
    expect(test.exitCode).toBe(1);
    expect(test.output).toContain('FpmAcceptQueueNearCapacity');
  });
});

describe('renderAlertRules options', () => {
  it('refuses a duration or ratio Prometheus would not take', () => {
    expect(() => renderAlertRules({ acceptQueueFor: '30 seconds' })).toThrow(
      FpmkitInvalidOptionError,
    );
    expect(() => renderAlertRules({ saturationRatio: Number.NaN })).toThrow(/saturationRatio/);
    expect(() => renderAlertRules({ job: 'a\nb' })).toThrow(/job/);
  });
});

describe('renderGrafanaDashboard', () => {
  it('has one panel per DASHBOARD_PANELS entry, each with its query', () => {
    const d = JSON.parse(renderGrafanaDashboard());
    expect(d.panels.map((p: { targets: { expr: string }[] }) => p.targets[0]!.expr)).toEqual(
      DASHBOARD_PANELS.map((p) => p.expr),
    );
    expect(d.templating.list.map((v: { name: string }) => v.name)).toEqual(['datasource', 'pool']);
  });
});
