import type { ExpositionFormat, StoreHealth } from '@kci-metrics/sqlite-store';

/** What the aggregator knows about one scrape, beyond the store's health. */
export interface ScrapeFacts {
  /** Seconds this scrape spent reading the store and rendering its exposition. */
  durationSeconds: number;
  /** Scrapes answered with 503 since the aggregator started. */
  readFailures: number;
}

type MetricType = 'gauge' | 'counter';

interface Family {
  /** The family name; counters get `_total` on their sample (and, in the Prometheus format, their name). */
  name: string;
  type: MetricType;
  help: string;
  unit?: string;
  samples: Array<{ labels?: Record<string, string>; value: number }>;
}

/**
 * The aggregator's own metrics, in the requested format, to append to the store's exposition (before
 * `# EOF` in OpenMetrics). All names start with `kci_metrics_`; the README lists them.
 *
 * @example
 * renderSelfMetrics(store.health(), { durationSeconds: 0.004, readFailures: 0 }, 'prometheus');
 */
export function renderSelfMetrics(health: StoreHealth, facts: ScrapeFacts, format: ExpositionFormat): string {
  const families: Family[] = [
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
  return families.map((family) => renderFamily(family, format)).join('');
}

function uniqueMetrics(conflicts: StoreHealth['conflicts']): string[] {
  return [...new Set(conflicts.map((c) => c.metric))].sort();
}

function renderFamily(family: Family, format: ExpositionFormat): string {
  const counter = family.type === 'counter';
  const sampleName = counter ? `${family.name}_total` : family.name;
  let out: string;
  if (format === 'openmetrics') {
    // OpenMetrics names the counter family without `_total`; only its sample carries the suffix.
    out = `# TYPE ${family.name} ${family.type}\n`;
    if (family.unit !== undefined) out += `# UNIT ${family.name} ${family.unit}\n`;
    out += `# HELP ${family.name} ${escapeHelp(family.help, format)}\n`;
  } else {
    out = `# HELP ${sampleName} ${escapeHelp(family.help, format)}\n# TYPE ${sampleName} ${family.type}\n`;
  }
  for (const sample of family.samples)
    out += `${sampleName}${renderLabels(sample.labels)} ${renderValue(sample.value)}\n`;
  return out;
}

function renderLabels(labels: Record<string, string> | undefined): string {
  if (labels === undefined) return '';
  const pairs = Object.entries(labels).map(([name, value]) => `${name}="${escapeLabelValue(value)}"`);
  return `{${pairs.join(',')}}`;
}

/** Label values escape backslash, double quote and line feed, in both formats. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function escapeHelp(help: string, format: ExpositionFormat): string {
  const escaped = help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
  return format === 'openmetrics' ? escaped.replace(/"/g, '\\"') : escaped;
}

function renderValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}
