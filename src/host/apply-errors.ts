// The apply errors live with the rest of the family in src/errors.ts.
export {
  FpmkitApplyFailedError,
  FpmkitApplyLockedError,
  FpmkitApplyRejectedError,
  FpmkitApplyStaleError,
  FpmkitListenerNotFoundError,
  FpmkitSysctlApplyError,
  type SysctlMismatch,
} from '../errors.js';
