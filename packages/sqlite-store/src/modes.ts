/**
 * How a gauge is merged across processes, set per metric as `multiprocessMode` on the prom-client
 * configuration (the names of Python prometheus_client's `multiprocess_mode`):
 *
 * - `all`: one series per process, with a `pid` label; `liveall`: the same, live processes only.
 * - `sum`, `min`, `max`: over every process that wrote, including exited ones (their last value).
 * - `livesum`, `livemin`, `livemax`: over live processes only.
 * - `mostrecent`, `livemostrecent`: the value written last.
 *
 * The default is `livesum` (what prom-client's cluster aggregation gives, since it only asks live workers).
 * Importing this package adds `multiprocessMode` to prom-client's `GaugeConfiguration` type.
 *
 * @example
 * new Gauge({ name: 'queue_depth', help: 'Jobs waiting', multiprocessMode: 'livemax' });
 */
export type MultiprocessMode =
  | 'all'
  | 'liveall'
  | 'sum'
  | 'livesum'
  | 'min'
  | 'livemin'
  | 'max'
  | 'livemax'
  | 'mostrecent'
  | 'livemostrecent';

export const MULTIPROCESS_MODES: readonly MultiprocessMode[] = [
  'all',
  'liveall',
  'sum',
  'livesum',
  'min',
  'livemin',
  'max',
  'livemax',
  'mostrecent',
  'livemostrecent',
];

export const DEFAULT_MULTIPROCESS_MODE: MultiprocessMode = 'livesum';

// The store merges gauges, so the store owns this typing: a user of the store alone type-checks
// `new Gauge({ ..., multiprocessMode })` (the README's example) with nothing else installed.
declare module 'prom-client' {
  interface GaugeConfiguration<T extends string> {
    /** How the store merges this gauge across processes (@kci-metrics). Default `livesum`. */
    multiprocessMode?: MultiprocessMode;
  }
}
