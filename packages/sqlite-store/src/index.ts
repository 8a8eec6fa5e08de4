export type { ExpositionFormat, MetricsOptions, MetricsStore, StoreHealth, StoreLogger, StoreOptions } from './types.js';
export { OPENMETRICS_CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE } from './content-types.js';
export { openStore } from './store.js';
export { type AttachFromEnvOptions, attachFromEnv } from './from-env.js';
