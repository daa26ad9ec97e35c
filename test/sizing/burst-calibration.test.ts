import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { burstOverflow, burstOverflowRange } from '../../src/sizing/overflow.js';
import { nginxBinary, phpFpmBinary } from '../support/integration.js';
import { httpStatus, type StartedNginx, startNginx } from '../support/nginx.js';
import { type StartedFpm, startPhpFpm } from '../support/php-fpm.js';

/**
 * Burst calibration: a real php-fpm (pm = static, 2 children, listen.backlog = 8) behind a real
 * nginx on a UNIX socket, hit by N simultaneous requests to a 200 ms script. nginx's
 * non-blocking connect() gets EAGAIN once the accept queue (backlog + 1 = 9) is full and
 * answers 502; `burstOverflow` must predict the count of 502s within 1.
 *
 * Measured here: the pool served 9, 10 or 11 of each burst, not always 11. nginx connects a
 * whole batch of ready requests in one pass of its event loop, and the idle children, though
 * woken, only accept once they get a CPU; on a 2-core host that is often after the batch. So
 * the capacity of a burst is the queue (9) plus 0 to 2 children, and the model predicts the
 * midpoint with the bounds around it.
 */

const fpmReq = phpFpmBinary();
const nginxReq = nginxBinary();

const CHILDREN = 2;
const BACKLOG = 8;

describe.skipIf(!fpmReq.available || !nginxReq.available)(
  `burstOverflow against real php-fpm behind nginx${fpmReq.reason}${nginxReq.reason}`,
  () => {
    let fpm: StartedFpm | undefined;
    let web: StartedNginx | undefined;

    beforeAll(async () => {
      fpm = await startPhpFpm({
        pools: [
          {
            name: 'burst',
            directives: `pm = static\npm.max_children = ${CHILDREN}\nlisten.backlog = ${BACKLOG}\n`,
          },
        ],
        scripts: { 'sleep.php': '<?php usleep(200000); echo "ok";' },
      });
      web = await startNginx({
        http: `server { listen 127.0.0.1:@PORT@ backlog=1024; root ${fpm.wwwDir};
  location ~ \\.php$ { include /etc/nginx/fastcgi_params;
    fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
    fastcgi_pass unix:${fpm.pool('burst').socketPath}; } }`,
      });
    });

    afterAll(async () => {
      await web?.stop();
      await fpm?.stop();
    });

    it.each([10, 20, 40, 80])('a burst of %i simultaneous requests', async (n) => {
      const statuses = await Promise.all(
        Array.from({ length: n }, () => httpStatus(web!.port, '/sleep.php')),
      );
      const count = (s: number) => statuses.filter((x) => x === s).length;
      const measured502 = count(502);
      const input = { burst: n, servers: CHILDREN, queueCapacity: BACKLOG + 1 };
      const predicted = burstOverflow(input);
      const range = burstOverflowRange(input);
      console.log(
        `burst ${n}: predicted ${predicted} 502s (between ${range.min} and ${range.max}), nginx returned ${measured502} 502s and ${count(200)} 200s`,
      );
      expect(measured502).toBeGreaterThanOrEqual(range.min);
      expect(measured502).toBeLessThanOrEqual(range.max);
      expect(count(200) + measured502).toBe(n);
      expect(Math.abs(predicted - measured502)).toBeLessThanOrEqual(1);
      const log = await web!.errorLog();
      if (measured502 > 0) expect(log).toContain('(11: Resource temporarily unavailable)');
    });
  },
);
