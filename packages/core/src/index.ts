export { DEFAULT_FLUSH_INTERVAL_MS, DEFAULT_METRICS_HOST, DEFAULT_METRICS_PORT, DEFAULT_MULTIPROC_DIR, loadConfig, parseBoolean, parseInteger } from './config.js';
export type { MetricsConfig } from './config.js';
export { ConfigError, formatValue, StoreError } from './errors.js';
export type { StoreErrorCode } from './errors.js';
export {
  HTTP_ACTIVE_NAME,
  HTTP_DURATION_BUCKETS,
  HTTP_DURATION_NAME,
  HTTP_REQUEST_SIZE_NAME,
  HTTP_RESPONSE_SIZE_NAME,
  HTTP_SIZE_BUCKETS,
} from './http-metrics.js';
export { CLIENT_CLOSED_REQUEST, normalizeMethod, OTHER_METHOD, statusLabel, UNMATCHED_ROUTE } from './labels.js';
export { DEFAULT_MULTIPROCESS_MODE, MULTIPROCESS_MODES } from './multiprocess.js';
export type { MultiprocessMode } from './multiprocess.js';
export type { ExcludePaths, HttpRecorderOptions, LabelSource } from './options.js';
export { createHttpRecorder } from './recorder.js';
export { onResponseDone } from './response.js';
export type { ResponseOutcome, ResponseWatchOptions } from './response.js';
export type { HttpAdapter, HttpRecorder, RequestOutcome, RequestTimer } from './recorder.js';
