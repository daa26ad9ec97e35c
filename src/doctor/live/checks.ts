/**
 * The live checks, in the order their findings are reported. Each is a small function over the
 * context `liveContext` builds once; the lists say what each one runs over.
 */
import type { LiveContext, UpstreamErrors } from './context.js';
import { renderFixFiles } from './fix-files.js';
import {
  type MasterEvidence,
  maxChildrenReached,
  ondemandColdStart,
  reloadKillsRequests,
  slowRequests,
  statusMisconfigured,
} from './master-logs.js';
import { configurationFindings, noFpmMaster, untrustedMasters } from './masters.js';
import { memoryOvercommit } from './memory.js';
import { fpmNotRunning } from './running.js';
import { backlogDrift, saturatedNow } from './sockets.js';
import { acceptQueueOverflow, socketMissing, socketPermissionDenied } from './upstream.js';

/** Checks that run once over the whole snapshot, before the others. */
export const SNAPSHOT_CHECKS: readonly ((ctx: LiveContext) => void)[] = [
  noFpmMaster,
  fpmNotRunning,
  untrustedMasters,
  configurationFindings,
  saturatedNow,
  backlogDrift,
];

/** Checks that run once per pool nginx reported upstream errors for. */
export const UPSTREAM_CHECKS: readonly ((ctx: LiveContext, group: UpstreamErrors) => void)[] = [
  acceptQueueOverflow,
  socketPermissionDenied,
  socketMissing,
];

/** Checks that run once per master, over its log and its pools. */
export const MASTER_CHECKS: readonly ((ctx: LiveContext, master: MasterEvidence) => void)[] = [
  reloadKillsRequests,
  maxChildrenReached,
  ondemandColdStart,
  statusMisconfigured,
  slowRequests,
];

/** Checks that run once over every pool of every master, last. */
export const HOST_CHECKS: readonly ((ctx: LiveContext) => void)[] = [memoryOvercommit];

/** Runs every list in order, rendering the fix files once the upstream checks suggested them. */
export function runLiveChecks(ctx: LiveContext): void {
  for (const check of SNAPSHOT_CHECKS) check(ctx);
  for (const group of ctx.upstream) for (const check of UPSTREAM_CHECKS) check(ctx, group);
  renderFixFiles(ctx);
  for (const evidence of ctx.fpmLogs) for (const check of MASTER_CHECKS) check(ctx, evidence);
  for (const check of HOST_CHECKS) check(ctx);
}
