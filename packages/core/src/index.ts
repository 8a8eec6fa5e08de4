export { ConfigError, formatValue } from './errors.js';
export type { ExemplarSource } from './exemplars.js';
export {
  HTTP_ACTIVE_NAME,
  HTTP_DURATION_BUCKETS,
  HTTP_DURATION_NAME,
  HTTP_REQUEST_SIZE_NAME,
  HTTP_RESPONSE_SIZE_NAME,
  HTTP_SIZE_BUCKETS,
} from './http-metrics.js';
export { CLIENT_CLOSED_REQUEST, normalizeMethod, OTHER_METHOD, statusLabel, UNMATCHED_ROUTE } from './labels.js';
export type { ExcludePaths, HttpRecorderOptions, LabelSource } from './options.js';
export type { HttpAdapter, HttpRecorder, RequestOutcome, RequestTimer } from './recorder.js';
export { createHttpRecorder } from './recorder.js';
export type { ResponseOutcome, ResponseWatchOptions } from './response.js';
export { onResponseDone } from './response.js';
