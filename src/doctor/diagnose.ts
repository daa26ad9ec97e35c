import type { Finding } from '../findings.js';
import { hasErrors, sortFindings } from '../findings.js';
import type { FindingCode } from '../findings-catalog.js';
import { FINDING_CODES, type LiveFindingCode } from '../findings-catalog.js';
import { runLiveChecks } from './live/checks.js';
import { type DiagnoseOptions, liveContext, type MissingPart } from './live/context.js';
import type { HostSnapshot } from './snapshot.js';

export type { DiagnoseOptions, MissingPart } from './live/context.js';
export type {
  HostSnapshot,
  LogWindow,
  MasterRunState,
  SnapshotCgroup,
  SnapshotMaster,
  SnapshotPart,
  SnapshotPool,
  SnapshotUntrustedMaster,
  SnapshotWebServer,
  WebServerWorkerUser,
} from './snapshot.js';

/** What `diagnose` returns. */
export interface Report {
  /** Errors first. */
  findings: Finding<FindingCode>[];
  summary: {
    errors: number;
    warnings: number;
    infos: number;
    /** Masters running (on a live host, a configuration given without its master is not counted). */
    masters: number;
    pools: number;
    /** One line for people. */
    text: string;
  };
  /** Parts of the snapshot that could not be read, and steps that failed (with why). */
  missing: MissingPart[];
  /** True when no FPM master was found and no configuration was given. */
  noFpm: boolean;
  /** Files the fixes would write, by suggested name. */
  files: Record<string, string>;
}

/** Live finding codes `diagnose` produces (the `live.*` codes of `FINDING_CATALOG`). */
export const LIVE_FINDING_CODES: readonly LiveFindingCode[] = FINDING_CODES.filter(
  (code): code is LiveFindingCode => code.startsWith('live.'),
);
export type { LiveFindingCode };

function summarize(
  snapshot: HostSnapshot,
  findings: readonly Finding[],
  pools: number,
): Report['summary'] & { noFpm: boolean } {
  const count = (s: Finding['severity']) => findings.filter((f) => f.severity === s).length;
  const noFpm = snapshot.noFpm !== undefined && snapshot.masters.length === 0;
  // On a live host a configuration examined without its master is not a master.
  const masters =
    snapshot.origin === 'live'
      ? snapshot.masters.filter((m) => m.pid !== undefined).length
      : snapshot.masters.length;
  const stopped = snapshot.masters.length - masters;
  const text = noFpm
    ? `No PHP-FPM master was found (${snapshot.noFpm}).`
    : `${masters} FPM master(s)${stopped > 0 ? `, ${stopped} configuration(s) with no master running` : ''}, ${pools} pool(s): ${count('error')} error(s), ${count('warning')} warning(s), ${count('info')} note(s)${hasErrors(findings) ? '' : '; no errors'}.`;
  return {
    errors: count('error'),
    warnings: count('warning'),
    infos: count('info'),
    masters,
    pools,
    text,
    noFpm,
  };
}

/**
 * Reads a snapshot and says what is wrong: `checkStack`'s cross-layer findings when the
 * snapshot has the FPM configuration and kernel settings, the configuration's own findings,
 * and live findings from logs, queues, status pages and memory, each with its evidence and a
 * fix that names values (and, for the accept queue, the rendered files in `Report.files`).
 * Pure: it reads nothing but the snapshot. The checks are listed in `./live/checks.ts`.
 */
export function diagnose(snapshot: HostSnapshot, options: DiagnoseOptions = {}): Report {
  const ctx = liveContext(snapshot, options);
  runLiveChecks(ctx);
  const findings = sortFindings(ctx.findings);
  const { noFpm, ...summary } = summarize(snapshot, findings, ctx.pools.length);
  return { findings, summary, missing: ctx.missing, noFpm, files: ctx.files };
}
