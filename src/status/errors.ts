/** The status errors live with every other fpmkit error in `../errors.ts`; re-exported here. */
export {
  FpmStatusError,
  type FpmStatusErrorDetails,
  type FpmStatusErrorKind,
  FpmStatusHttpError,
  FpmStatusMisconfiguredError,
  FpmStatusNoAnswerError,
} from '../errors.js';
