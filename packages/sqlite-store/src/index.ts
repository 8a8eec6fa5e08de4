export { OPENMETRICS_CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE } from './content-types.js';
export { DEFAULT_FLUSH_INTERVAL_MS, DEFAULT_MULTIPROC_DIR, loadStoreConfig, type StoreConfig } from './env.js';
export { ConfigError, StoreError, type StoreErrorCode } from './errors.js';
export { type AttachFromEnvOptions, attachFromEnv } from './from-env.js';
export { DEFAULT_MULTIPROCESS_MODE, MULTIPROCESS_MODES, type MultiprocessMode } from './modes.js';
export { openStore } from './store.js';
export type {
  ExpositionFormat,
  ExtraFamily,
  ExtraSample,
  FlushOptions,
  MetricsOptions,
  MetricsStore,
  Scrape,
  ScrapeChunk,
  ScrapeOptions,
  StoreHealth,
  StoreLogger,
  StoreOptions,
} from './types.js';
