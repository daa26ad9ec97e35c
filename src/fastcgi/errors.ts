/** The FastCGI errors live with every other fpmkit error in `../errors.ts`; re-exported here. */
export {
  FastCGIHttpPeerError,
  type FastCGIRejectReason,
  FastCGIRequestRejectedError,
  firstLinePreview,
  looksLikeHttp,
} from '../errors.js';
