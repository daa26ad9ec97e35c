/**
 * The midnight 502s: logrotate sends SIGUSR2 at midnight, FPM stops accepting for about
 * 150 ms, and nginx answers 502 to everything that does not fit the socket's accept queue.
 * This predicts how many connections a reload refuses with today's settings, then plans the
 * pool so the backlog and somaxconn absorb the window, and says why.
 *
 *   node --import tsx examples/midnight-502.ts
 */
import { pathToFileURL } from 'node:url';
import { type Plan, planPool, reloadOverflow } from 'fpmkit/sizing';

export interface MidnightReport {
  /** Expected refused connections per reload today. */
  refusedToday: number;
  /** Expected refused connections per reload with the plan. */
  refusedWithPlan: number;
  plan: Plan;
  lines: string[];
}

const fmt = (n: number) => (n >= 0.01 || n === 0 ? n.toFixed(2) : n.toExponential(1));

export function midnight(): MidnightReport {
  const arrivalRate = 1000; // requests per second at midnight
  const windowSeconds = 0.15; // SIGUSR2 → new children accepting
  const somaxconn = 128; // an older kernel's default
  const listenBacklog = -1; // FPM 8.2's default: "as large as somaxconn allows"

  // The accept queue holds min(backlog, somaxconn) + 1; -1 means somaxconn.
  const queueToday = somaxconn + 1;
  const refusedToday = reloadOverflow({ arrivalRate, windowSeconds, queueCapacity: queueToday });
  const fluid = reloadOverflow({
    arrivalRate,
    windowSeconds,
    queueCapacity: queueToday,
    arrivals: 'uniform',
  });

  const plan = planPool({
    name: 'shop',
    listenAddress: '/run/php/shop.sock',
    arrivalRate,
    serviceTimeSeconds: 0.03,
    serviceTimeCv: 1,
    longestRequestSeconds: 30,
    reloadWindowSeconds: windowSeconds,
    pssSamplesBytes: [44e6, 46e6, 47e6, 51e6, 58e6, 62e6],
    cores: 16,
    totalMemoryBytes: 32 * 1024 ** 3,
    currentSomaxconn: somaxconn,
    currentListenBacklog: listenBacklog,
  });
  const why = (setting: string) => plan.explanations.find((e) => e.setting === setting)?.text ?? '';

  const lines = [
    `Today: ${arrivalRate} requests/s meet a ${windowSeconds * 1000} ms reload window.`,
    `  ${arrivalRate * windowSeconds} connections arrive while FPM accepts nothing; listen.backlog = ${listenBacklog} means somaxconn, so the queue holds ${somaxconn} + 1 = ${queueToday}.`,
    `  Expected 502s per reload: ${fmt(refusedToday)} (Poisson arrivals; ${fmt(fluid)} if they came evenly spaced).`,
    '',
    'Plan:',
    `  listen.backlog = ${plan.pool.listen.backlog}`,
    `    because ${why('listen.backlog')}`,
    `  net.core.somaxconn = ${plan.kernel.somaxconn}`,
    `    because ${why('net.core.somaxconn')}`,
    `  pm.max_children = ${plan.pool.pm.maxChildren}`,
    `    because ${why('pm.max_children')}`,
    `  process_control_timeout = ${plan.global.processControlTimeoutSeconds}s`,
    `    because ${why('process_control_timeout')}`,
    '',
    `With the plan: the queue holds ${plan.predictions.burstCapacity - (plan.pool.pm.maxChildren ?? 0)} connections; expected 502s per reload: ${fmt(plan.predictions.reloadRefused)}, chance of any: ${fmt(plan.predictions.reloadRefusalProbability)}.`,
  ];
  return { refusedToday, refusedWithPlan: plan.predictions.reloadRefused, plan, lines };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(midnight().lines.join('\n'));
}
