import { describe, expect, it } from 'vitest';
import { FpmCollector, renderMetrics } from '../../src/metrics/index.js';
import { parseStatus } from '../../src/status/index.js';

const PAGE = {
  pool: 'www',
  'process manager': 'static',
  'start time': 1795250421,
  'start since': 4,
  'accepted conn': 5,
  'listen queue': 0,
  'max listen queue': 0,
  'listen queue len': 0,
  'idle processes': 0,
  'active processes': 3,
  'total processes': 3,
  'max active processes': 3,
  'max children reached': 0,
  'slow requests': 0,
};

function proc(pid: number, state: string) {
  return {
    pid,
    state,
    'start time': 1795250421,
    'start since': 4,
    requests: 1,
    'request duration': 10,
    'request method': 'GET',
    'request uri': '/',
    'content length': 0,
    user: '-',
    script: '-',
    'last request cpu': 0,
    'last request memory': 0,
  };
}

describe('fpm_active_processes_by_phase', () => {
  it('counts FPM states and ignores a state named like an Object property', async () => {
    const states = ['Running', 'Running', 'Finishing', 'constructor', 'toString', '__proto__'];
    const status = parseStatus(
      JSON.stringify({ ...PAGE, processes: states.map((s, i) => proc(100 + i, s)) }),
      { format: 'json' },
    );
    const collector = new FpmCollector({
      targets: [{ name: 'www', listen: '/nonexistent/www.sock' }],
      memory: false,
      sampler: async () => ({ status, durationSeconds: 0.001 }),
      listListeners: async () => undefined,
    });
    try {
      const samples = await collector.collect();
      const phases = Object.fromEntries(
        samples
          .filter((s) => s.name === 'fpm_active_processes_by_phase')
          .map((s) => [s.labels.phase, s.value]),
      );
      expect(phases).toEqual({ running: 2, reading_headers: 0, info: 0, finishing: 1, ending: 0 });
      expect(renderMetrics(samples)).toContain('phase="running"} 2\n');
    } finally {
      collector.close();
    }
  });
});
