/** The sizing errors live with every other fpmkit error in `../errors.ts`; re-exported here. */
export { FpmkitInfeasiblePlanError, type InfeasibleReason } from '../errors.js';
