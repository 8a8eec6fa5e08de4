import type { MetricType } from './describe.js';
import type { WriterView } from './gc.js';
import { escapeHelp, formatNumber } from './labels.js';

/** Rows as read in one read transaction (raw arrays, column order of the SELECTs in statements.ts). */
export interface Snapshot {
  /** id, name, type, help, label_names, buckets, mode */
  metrics: unknown[][];
  /** metric_id, id, labels, value, data, retired_at */
  series: unknown[][];
  /** series_id, writer_id, value, updated_at */
  gauges: unknown[][];
  writers: WriterView[];
}

type SeriesRow = [number, number, string, number, Buffer | null, number | null];
type GaugeRow = [number, number, number | null, number];

/**
 * Render the merged exposition: counters and histograms straight from their merged rows; summaries as
 * `_sum` and `_count` only (quantiles cannot be merged across processes); gauges by their mode.
 */
export function render(snap: Snapshot, openMetrics: boolean): string {
  const byMetric = new Map<number, SeriesRow[]>();
  for (const row of snap.series as SeriesRow[]) {
    const list = byMetric.get(row[0]);
    if (list) list.push(row);
    else byMetric.set(row[0], [row]);
  }
  const gaugeValues = new Map<number, GaugeRow[]>();
  for (const row of snap.gauges as GaugeRow[]) {
    const list = gaugeValues.get(row[0]);
    if (list) list.push(row);
    else gaugeValues.set(row[0], [row]);
  }
  const writers = new Map<number, WriterView>();
  for (const w of snap.writers) writers.set(w.row.id, w);

  let out = '';
  for (const m of snap.metrics) {
    const [id, name, type, help, , bucketsJson, mode] = m as [number, string, MetricType, string, string, string | null, string | null];
    const rows = byMetric.get(id) ?? [];
    let body = '';
    if (type === 'counter') body = renderCounter(name, rows, openMetrics);
    else if (type === 'histogram') body = renderHistogram(name, rows, JSON.parse(bucketsJson ?? '[]') as number[]);
    else if (type === 'summary') body = renderSummary(name, rows);
    else body = renderGauge(name, rows, mode ?? 'livesum', gaugeValues, writers);
    if (!body && type === 'gauge') continue; // no process reports it (any more)
    const family = openMetrics && type === 'counter' && name.endsWith('_total') ? name.slice(0, -6) : name;
    out += `# HELP ${family} ${escapeHelp(help, openMetrics)}\n# TYPE ${family} ${type}\n${body}`;
  }
  return openMetrics ? `${out}# EOF\n` : out;
}

const braces = (labels: string) => (labels ? `{${labels}}` : '');

function renderCounter(name: string, rows: SeriesRow[], openMetrics: boolean): string {
  const sample = openMetrics && !name.endsWith('_total') ? `${name}_total` : name;
  let out = '';
  for (const r of rows) out += `${sample}${braces(r[2])} ${formatNumber(r[3])}\n`;
  return out;
}

function renderHistogram(name: string, rows: SeriesRow[], bounds: number[]): string {
  const le = bounds.map((b) => `le="${formatNumber(b)}"`);
  const n = bounds.length;
  let out = '';
  for (const r of rows) {
    const data = r[4];
    if (!data || data.length !== (n + 2) * 8) continue;
    const labels = r[2];
    const prefix = labels ? `${name}_bucket{${labels},` : `${name}_bucket{`;
    let acc = 0;
    for (let i = 0; i < n; i++) {
      acc += data.readDoubleLE(i * 8);
      out += `${prefix}${le[i]}} ${formatNumber(acc)}\n`;
    }
    const count = data.readDoubleLE((n + 1) * 8);
    out += `${prefix}le="+Inf"} ${formatNumber(count)}\n`;
    out += `${name}_sum${braces(labels)} ${formatNumber(data.readDoubleLE(n * 8))}\n`;
    out += `${name}_count${braces(labels)} ${formatNumber(count)}\n`;
  }
  return out;
}

function renderSummary(name: string, rows: SeriesRow[]): string {
  let out = '';
  for (const r of rows) {
    const data = r[4];
    if (data?.length !== 16) continue;
    out += `${name}_sum${braces(r[2])} ${formatNumber(data.readDoubleLE(0))}\n`;
    out += `${name}_count${braces(r[2])} ${formatNumber(data.readDoubleLE(8))}\n`;
  }
  return out;
}

function renderGauge(
  name: string,
  rows: SeriesRow[],
  mode: string,
  gaugeValues: Map<number, GaugeRow[]>,
  writers: Map<number, WriterView>,
): string {
  const liveOnly = mode.startsWith('live');
  const base = liveOnly ? mode.slice(4) : mode;
  let out = '';
  for (const r of rows) {
    const values = (gaugeValues.get(r[1]) ?? []).filter((g) => {
      const w = writers.get(g[1]);
      return w !== undefined && (w.alive || !liveOnly);
    });
    if (base === 'all') {
      for (const g of values.sort((a, b) => (writers.get(a[1])?.row.pid ?? 0) - (writers.get(b[1])?.row.pid ?? 0))) {
        const pid = `pid="${writers.get(g[1])?.row.pid ?? 0}"`;
        out += `${name}{${r[2] ? `${r[2]},` : ''}${pid}} ${formatNumber(g[2] ?? Number.NaN)}\n`;
      }
      continue;
    }
    const retired = !liveOnly && r[5] !== null ? { value: r[3], at: r[5] } : undefined;
    const v = mergeGauge(base, values, retired);
    if (v !== undefined) out += `${name}${braces(r[2])} ${formatNumber(v)}\n`;
  }
  return out;
}

function mergeGauge(base: string, values: GaugeRow[], retired: { value: number; at: number } | undefined): number | undefined {
  if (values.length === 0 && !retired) return undefined;
  if (base === 'mostrecent') {
    let best = retired ? { v: retired.value, at: retired.at } : undefined;
    for (const g of values) if (!best || g[3] >= best.at) best = { v: g[2] ?? Number.NaN, at: g[3] };
    return best?.v;
  }
  let acc: number | undefined = retired?.value;
  for (const g of values) {
    const x = g[2];
    if (x === null) continue; // NaN: this process has no value to contribute
    acc = acc === undefined ? x : base === 'sum' ? acc + x : base === 'min' ? Math.min(acc, x) : Math.max(acc, x);
  }
  return acc ?? Number.NaN;
}
