import type { Registry } from 'prom-client';

/** Where the store logs its own trouble (once per distinct failure, and once on recovery). */
export interface StoreLogger {
  warn(message: string): void;
  info?(message: string): void;
}

export interface StoreOptions {
  /** The store directory. Default: `PROMETHEUS_MULTIPROC_DIR`, else `/tmp/prometheus_multiproc_dir`. */
  dir?: string;
  /** How often an attached registry is persisted. Default: `PROMETHEUS_METRICS_FLUSH_INTERVAL_MS`, else 1000 ms. */
  flushIntervalMs?: number;
  /** Start from empty values (a full restart that should not keep totals). Call it before workers start. Default false. */
  fresh?: boolean;
  /** Where failures are reported. Default: `console`, prefixed with `[kci-metrics]`. */
  logger?: StoreLogger;
  /**
   * Series kept per metric, its `kci_overflow="true"` series included; a metric's own `maxSeries` wins.
   * Default: `PROMETHEUS_METRICS_MAX_SERIES`, else 2000.
   */
  maxSeries?: number;
}

/** Exposition formats the store renders. */
export type ExpositionFormat = 'prometheus' | 'openmetrics';

export interface MetricsOptions {
  /** Default `prometheus` (text format 0.0.4). */
  format?: ExpositionFormat;
}

/** One sample of an {@link ExtraFamily}. */
export interface ExtraSample {
  /** Label names (`[a-zA-Z_][a-zA-Z0-9_]*`, not `__`-prefixed) to values; values are escaped by the store. */
  labels?: Readonly<Record<string, string>>;
  value: number;
}

/**
 * A metric family that is not in the store but is rendered into the same exposition (e.g. the aggregator's
 * own `kci_metrics_*` metrics), with the store's escaping and number rules, before the OpenMetrics `# EOF`.
 *
 * @example
 * const up: ExtraFamily = { name: 'my_scrapes', type: 'counter', help: 'Scrapes served.', samples: [{ value: 3 }] };
 */
export interface ExtraFamily {
  /**
   * The family name (`[a-zA-Z_:][a-zA-Z0-9_:]*`). A counter's samples are named `<name>_total`; a counter
   * name that already ends with `_total` is taken as the sample name. Must not be the name of a stored metric.
   */
  name: string;
  type: 'counter' | 'gauge';
  /** HELP text, any string (escaped by the store). */
  help: string;
  /** OpenMetrics `# UNIT` (e.g. `seconds`); the name must end with `_<unit>`. Not rendered in the Prometheus format. */
  unit?: string;
  /** Counter values must be >= 0. Label sets must differ. */
  samples: readonly ExtraSample[];
}

export interface ScrapeOptions {
  /** Default `prometheus` (text format 0.0.4). */
  format?: ExpositionFormat;
  /**
   * Families to render after the stored ones. A function is called with the health of the same snapshot as the
   * body, once it is read, so metrics derived from the health always agree with the body.
   */
  extraFamilies?: readonly ExtraFamily[] | ((health: StoreHealth) => readonly ExtraFamily[]);
}

/** One scrape: the exposition and the store's health, both of one read transaction. */
export interface Scrape {
  format: ExpositionFormat;
  /** The merged exposition, extra families included; OpenMetrics ends with one `# EOF`. */
  readonly body: string;
  /**
   * The body in two parts, `stored + tail`: the stored families, and the extra families (plus `# EOF`).
   * While nothing stored changed, scrapes of a format return the same `version`, read and rendered once: a
   * caller can keep what it derives from it (compressed bytes) by version. `chunks` are `stored` in parts,
   * in order, as UTF-8 bytes, each with a version that stays the same while its bytes do: after a change,
   * only the chunks of the series that changed have a new version (issue 17). The text forms (`stored`,
   * `body`, a chunk's `text`) are made when read, each piece of the exposition decoded once and kept from
   * then on (so a caller that reads text after every change decodes only what changed); a server sends
   * the bytes and never holds the text.
   */
  parts: { readonly stored: string; version: number; tail: string; chunks: readonly ScrapeChunk[] };
  health: StoreHealth;
}

/** A part of the stored families of a scrape. */
export interface ScrapeChunk {
  /** The same while the bytes are the same (across scrapes of one store and format). */
  version: number;
  /** The chunk's UTF-8 bytes, as pieces to send or compress in order; kept by the store: never modify them. */
  bytes: readonly Buffer[];
  /** The chunk as text (its pieces decoded at the first read of any text, then kept). */
  readonly text: string;
}

/** The store's own health, for the aggregator's self-metrics. */
export interface StoreHealth {
  /** The database file. */
  path: string;
  /** Database plus WAL size, in bytes. */
  sizeBytes: number;
  /** Writers that are running (their process is alive). */
  liveWriters: number;
  /** Live writers whose last successful flush is older than 3 flush intervals (their flushes fail). */
  stalledWriters: number;
  /** Writers whose process is gone and that are not folded yet. */
  deadWriters: number;
  /** Writers folded away since the store was created. */
  foldedWriters: number;
  /** Failed flushes reported by writers (a writer reports them once a flush succeeds again). */
  flushFailures: number;
  /**
   * Series values writers could not store because they were NaN (prom-client accepts `counter.inc(NaN)`);
   * each such series is counted once per process and keeps its stored total. Logged by the writer.
   */
  unstorableValues: number;
  /**
   * Metrics that reached their series bound (`maxSeries`, `PROMETHEUS_METRICS_MAX_SERIES`, default 2000),
   * with the number of label sets folded into their `kci_overflow="true"` series (gauges: dropped). A label
   * set folded by two processes counts twice. Logged once, by the writer that folded the metric's first.
   */
  seriesOverflows: Array<{ metric: string; series: number }>;
  /** Metrics whose definitions disagree between processes; those writers' values for them are not stored. */
  conflicts: Array<{ metric: string; detail: string }>;
}

/** The cross-process store. Workers `attach()` a registry; the aggregator calls `metrics()`. */
export interface FlushOptions {
  /** Write only when a value changed since the last flush or the heartbeat is due (default false). */
  ifChanged?: boolean;
}

export interface MetricsStore {
  /** The SQLite database file. */
  readonly path: string;
  /** Worker side: persist this registry every flush interval and when the process exits. */
  attach(registry: Registry): void;
  /**
   * Worker side: persist now, synchronously. Returns false when the store could not be written (values are
   * kept for the next flush). With `ifChanged`, only when something changed or the heartbeat is due, as the
   * interval's flushes do: otherwise it returns true without taking a lock or writing anything.
   */
  flush(options?: FlushOptions): boolean;
  /** Aggregator side: the text exposition merged over every process that wrote. Rejects with a StoreError when the store cannot be read. */
  metrics(options?: MetricsOptions): Promise<string>;
  /**
   * Aggregator side: one read of the store giving the exposition (plus `extraFamilies`) and the health of the
   * same snapshot. Rejects with a StoreError when the store cannot be read, a ConfigError for bad options or
   * extra families.
   */
  scrape(options?: ScrapeOptions): Promise<Scrape>;
  /** Aggregator side: the store's own health. Throws a StoreError when the store cannot be read. */
  health(): StoreHealth;
  /** Flush (when attached), stop timers and close the database. */
  close(): void;
}
