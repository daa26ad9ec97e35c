/**
 * Checks about the masters themselves: none found, untrusted ones, and each configuration's own
 * findings with `checkStack`'s cross-layer findings.
 */
import { checkStack } from '../check-stack.js';
import { type LiveContext, report } from './context.js';
import { citeFpm, unreadWebServers, webStackFindings } from './web-stack.js';

/**
 * `text` with control characters written as `\xNN`: a process title is chosen by whoever
 * started the process and can hold terminal escape sequences.
 */
export function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => {
    return `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
  });
}

/** `live.no-fpm-master`: nothing to examine. */
export function noFpmMaster(ctx: LiveContext): void {
  const { snapshot } = ctx;
  if (snapshot.noFpm === undefined || snapshot.masters.length > 0) return;
  report(ctx, 'live.no-fpm-master', {
    message: `No PHP-FPM master was found: ${snapshot.noFpm}`,
    evidence: { reason: snapshot.noFpm },
    fix: 'Start php-fpm, or point the doctor at a configuration (--config FILE) or at saved evidence (--from DIR).',
  });
}

/** `live.untrusted-master`: processes titled as masters that were not trusted as one. */
export function untrustedMasters(ctx: LiveContext): void {
  for (const u of ctx.snapshot.untrustedMasters ?? []) {
    const title = printable(u.configPath);
    report(ctx, 'live.untrusted-master', {
      message: `Ignored process ${u.pid}, titled "php-fpm: master process (${title})": ${printable(u.reason)}. It was not taken for a PHP-FPM master, so the files and sockets its title and configuration name were neither read nor contacted`,
      evidence: {
        pid: u.pid,
        configPath: title,
        ...(u.uids === undefined ? {} : { uids: u.uids }),
        ...(u.executable === undefined ? {} : { executable: printable(u.executable) }),
        reason: printable(u.reason),
      },
      fix: `Find out what process ${u.pid} is (ps -o user,pid,ppid,args -p ${u.pid}): any user can give a process this title. If it is a real FPM master, run fpmkit as root or as the user FPM runs as, from a php-fpm binary owned by root and writable only by root.`,
    });
  }
}

/**
 * Each configuration's findings (`fpm.*` from reading it) and, when the kernel settings are
 * known, `checkStack`'s: first over FPM and the kernel, then with each web server found in
 * front of the master (`webStackFindings`), citing both sides' files and lines. A
 * configuration `checkStack` refuses is reported as a missing part.
 */
export function configurationFindings(ctx: LiveContext): void {
  unreadWebServers(ctx);
  for (const master of ctx.snapshot.masters) {
    ctx.findings.push(...master.configFindings);
    if (!master.config.ok || !ctx.kernel) continue;
    try {
      const base = checkStack(
        { fpm: master.config.value, kernel: ctx.kernel },
        master.user ? { fpmMasterUser: master.user } : {},
      );
      ctx.findings.push(...base.map((f) => citeFpm(master, f)));
      ctx.findings.push(...webStackFindings(ctx, master, ctx.kernel, base));
    } catch (error) {
      ctx.missing.push({
        part: `checkStack(${master.configPath})`,
        reason: (error as Error)?.message ?? String(error),
      });
    }
  }
}
