export { type CgiResponse, MAX_CGI_HEADER_BYTES, parseCgiResponse } from './cgi.js';
export {
  FASTCGI_CLIENT_DEFAULTS,
  FastCGIClient,
  type FastCGIClientOptions,
  type FastCGIRequestOptions,
  type FastCGIResponse,
  GET_VALUES_TIMEOUT_MS,
  type GetValuesOptions,
} from './client.js';
export {
  FastCGIHttpPeerError,
  type FastCGIRejectReason,
  FastCGIRequestRejectedError,
} from './errors.js';
export {
  decodeNameValuePairs,
  decodeRecords,
  type EncodeRequestInput,
  encodeBeginRequest,
  encodeNameValuePairs,
  encodeParams,
  encodeRecord,
  encodeRequest,
  type FastCGIRecord,
  FCGI_CHUNK_LENGTH,
  FCGI_HEADER_LENGTH,
  FCGI_KEEP_CONN,
  FCGI_MAX_CONTENT_LENGTH,
  FCGI_NULL_REQUEST_ID,
  FCGI_VERSION,
  type NameValuePairs,
  ProtocolStatus,
  type ProtocolStatusValue,
  RecordDecoder,
  type RecordHandler,
  RecordType,
  type RecordTypeValue,
  Role,
  type RoleValue,
} from './records.js';
export { type FastCGITarget, type ParsedTarget, parseTarget } from './target.js';
