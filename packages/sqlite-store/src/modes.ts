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
    /** Most series the store keeps for this gauge, host-wide (@kci-metrics); further ones are dropped. Default 2000. */
    maxSeries?: number;
  }
  // Issue 16 §2: further label sets are added into one `kci_overflow="true"` series (see cardinality.ts).
  interface CounterConfiguration<T extends string> {
    /** Most series the store keeps for this counter, host-wide, the overflow series included (@kci-metrics). Default 2000. */
    maxSeries?: number;
  }
  interface HistogramConfiguration<T extends string> {
    /** Most series the store keeps for this histogram, host-wide, the overflow series included (@kci-metrics). Default 2000. */
    maxSeries?: number;
  }
  interface SummaryConfiguration<T extends string> {
    /** Most series the store keeps for this summary, host-wide, the overflow series included (@kci-metrics). Default 2000. */
    maxSeries?: number;
  }
}
