import type { ExtraFamily, StoreHealth } from '@kci-metrics/sqlite-store';

/** What the aggregator knows about one scrape, beyond the store's health. */
export interface ScrapeFacts {
  /** Seconds this scrape spent reading the store and rendering its exposition. */
  durationSeconds: number;
  /** Scrapes answered with 503 since the aggregator started. */
  readFailures: number;
}

/**
 * The aggregator's own metrics, as families for the store to render into the same exposition (before
 * `# EOF` in OpenMetrics), from the health of the same snapshot as the stored metrics. All names start with
 * `kci_metrics_`; counters are named without `_total` (the store adds it to their samples); the README lists them.
 *
 * @example
 * await store.scrape({ format, extraFamilies: (health) => selfMetricFamilies(health, { durationSeconds: 0.004, readFailures: 0 }) });
 */
export function selfMetricFamilies(health: StoreHealth, facts: ScrapeFacts): ExtraFamily[] {
  return [
    {
      name: 'kci_metrics_scrape_duration_seconds',
      type: 'gauge',
      unit: 'seconds',
      help: 'Time this scrape spent reading the metrics store and rendering the exposition.',
      samples: [{ value: facts.durationSeconds }],
    },
    {
      name: 'kci_metrics_store_up',
      type: 'gauge',
      help: 'Whether the metrics store was read for this scrape (a scrape that cannot read it gets HTTP 503).',
      samples: [{ value: 1 }],
    },
    {
      name: 'kci_metrics_store_read_failures',
      type: 'counter',
      help: 'Scrapes answered with 503 because the metrics store could not be read, since the aggregator started.',
      samples: [{ value: facts.readFailures }],
    },
    {
      name: 'kci_metrics_store_size_bytes',
      type: 'gauge',
      unit: 'bytes',
      help: 'Size of the metrics store database plus its write-ahead log.',
      samples: [{ value: health.sizeBytes }],
    },
    {
      name: 'kci_metrics_store_writers',
      type: 'gauge',
      // The states partition the writers (a stalled writer is not also counted as live), so sum() is all of them.
      help: 'Writer processes in the metrics store by state: live (flushing), stalled (running, but its flushes fail) or dead (gone, not folded yet).',
      samples: [
        { labels: { state: 'live' }, value: Math.max(0, health.liveWriters - health.stalledWriters) },
        { labels: { state: 'stalled' }, value: health.stalledWriters },
        { labels: { state: 'dead' }, value: health.deadWriters },
      ],
    },
    {
      name: 'kci_metrics_store_folded_writers',
      type: 'counter',
      help: 'Writers whose process ended and whose values were folded into the retired totals.',
      samples: [{ value: health.foldedWriters }],
    },
    {
      name: 'kci_metrics_store_flush_failures',
      type: 'counter',
      help: 'Failed flushes reported by writer processes.',
      samples: [{ value: health.flushFailures }],
    },
    {
      name: 'kci_metrics_store_unstorable_values',
      type: 'counter',
      help: 'Series whose value a writer could not store because it was NaN (counter.inc(NaN)); they keep their stored totals. See the writer log.',
      samples: [{ value: health.unstorableValues ?? 0 }],
    },
    {
      name: 'kci_metrics_store_conflicts',
      type: 'gauge',
      help: 'Metrics whose definition (type, labels or buckets) differs between processes; see the aggregator log.',
      samples: [{ value: health.conflicts.length }],
    },
    {
      name: 'kci_metrics_store_conflict_info',
      type: 'gauge',
      help: 'One series per metric whose definition differs between processes.',
      samples: uniqueMetrics(health.conflicts).map((metric) => ({ labels: { metric }, value: 1 })),
    },
    {
      name: 'kci_metrics_store_series_overflowed',
      type: 'counter',
      help: 'Label sets beyond a metric\'s series bound (maxSeries, PROMETHEUS_METRICS_MAX_SERIES), folded into its kci_overflow="true" series (gauges: dropped), counted once per process.',
      samples: (health.seriesOverflows ?? []).map((o) => ({ labels: { metric: o.metric }, value: o.series })),
    },
  ];
}

function uniqueMetrics(conflicts: StoreHealth['conflicts']): string[] {
  return [...new Set(conflicts.map((c) => c.metric))].sort();
}
