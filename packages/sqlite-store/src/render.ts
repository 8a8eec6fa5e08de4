import type { WriterView } from './gc.js';
import { escapeHelp, formatNumber } from './labels.js';
import { counts, type GaugeMode, type GaugeRow, gaugeMode, type MetricType } from './merge.js';
import { NEWLINE, SPACE, type Utf8Writer } from './utf8-writer.js';
import { hexVectorInto } from './vector-codec.js';

/** A metric row as a scrape reads it (statements.ts `readMetrics`: id, name, type, help, label_names, buckets, mode). */
export type MetricRow = [number, string, MetricType, string, string, string | null, string | null];

/**
 * A series row as a scrape reads it (`readSeriesRange`: metric_id, id, labels, value, hex(data), retired_at); the
 * vector as hex text, '' when the row has none (vector-codec.ts, hexVectorInto), or its values when the
 * delta log added to it (delta-log.ts Overlay).
 */
export type SeriesRow = [number, number, string, number, string | Float64Array, number | null];

/** The `n` values of a row's vector into `out`; false when it has none of that length. */
function vectorInto(vector: string | Float64Array, n: number, out: Float64Array): boolean {
  if (typeof vector === 'string') return hexVectorInto(vector, n, out);
  if (vector.length !== n) return false;
  out.set(vector);
  return true;
}

/** The vector of the row being rendered (grown to the longest). */
let values = new Float64Array(16);

/** What the samples of series depend on besides their own rows, as read in the same transaction. */
export interface SampleContext {
  openMetrics: boolean;
  /** Gauge values of (at least) the series rendered, by series id. */
  gaugeValues: Map<number, GaugeRow[]>;
  writers: Map<number, WriterView>;
  /** Exemplars of (at least) the series rendered, by series id (OpenMetrics only). */
  exemplars: Exemplars;
}

/** A metric as the renderer needs it, parsed once per scrape. */
export interface MetricInfo {
  id: number;
  name: string;
  type: MetricType;
  help: string;
  /** Finite bucket bounds (histograms). */
  bounds: number[];
  mode: GaugeMode;
  /** Everything its samples' rendering depends on in its definition (a change renders its series again). */
  signature: string;
}

export function metricInfo(row: MetricRow): MetricInfo {
  const [id, name, type, help, labelNames, bucketsJson, mode] = row;
  return {
    id,
    name,
    type,
    help,
    bounds: type === 'histogram' ? (JSON.parse(bucketsJson ?? '[]') as number[]) : [],
    mode: gaugeMode(mode),
    signature: `${name}\0${type}\0${labelNames}\0${bucketsJson}\0${mode}`,
  };
}

/** The `# HELP` and `# TYPE` lines of a family. */
export function familyHeader(m: MetricInfo, openMetrics: boolean): string {
  const family = openMetrics && m.type === 'counter' && m.name.endsWith('_total') ? m.name.slice(0, -6) : m.name;
  return `# HELP ${family} ${escapeHelp(m.help, openMetrics)}\n# TYPE ${family} ${m.type}\n`;
}

/**
 * The sample lines of `rows`, series of metric `m` in id order (all of them, or one block's, see
 * blocks.ts), written to `out` as UTF-8: counters and histograms straight from their merged rows;
 * summaries as `_sum` and `_count` only (quantiles cannot be merged across processes); gauges by their
 * mode (merge.ts). `pidLabel` is the process label of per-process gauge modes, decided over every series of
 * the metric (processLabel).
 */
export function renderSamples(
  m: MetricInfo,
  rows: SeriesRow[],
  ctx: SampleContext,
  pidLabel: string,
  out: Utf8Writer,
): void {
  if (m.type === 'counter') renderCounter(out, m.name, rows, ctx.openMetrics, ctx.exemplars);
  else if (m.type === 'histogram') renderHistogram(out, m.name, rows, m.bounds, ctx.openMetrics, ctx.exemplars);
  else if (m.type === 'summary') renderSummary(out, m.name, rows, ctx.openMetrics);
  else renderGauge(out, m.name, rows, m.mode, ctx.gaugeValues, ctx.writers, pidLabel);
}

/** Gauge values by series id. */
export function gaugeValuesOf(rows: readonly GaugeRow[]): Map<number, GaugeRow[]> {
  const byId = new Map<number, GaugeRow[]>();
  for (const row of rows) {
    const list = byId.get(row[0]);
    if (list) list.push(row);
    else byId.set(row[0], [row]);
  }
  return byId;
}

/** Exemplars by series id, then slot, each as the suffix of its sample line (exemplars.ts). */
export type Exemplars = Map<number, string[]>;
export const NO_EXEMPLARS: Exemplars = new Map();

const utf8 = (text: string) => Buffer.from(text, 'utf8');

/** `name{labels} ` (`name ` without labels); `name` encoded already, and its suffix included. */
function sampleStart(out: Utf8Writer, name: Buffer, labels: string): void {
  out.bytes(name);
  if (labels) {
    out.byte(OPEN_BRACE);
    out.text(labels);
    out.byte(CLOSE_BRACE);
  }
  out.byte(SPACE);
}

/** The end of a sample line: its exemplar, if any, and the line feed. */
function sampleEnd(out: Utf8Writer, exemplar: string | undefined): void {
  if (exemplar) out.text(exemplar);
  out.byte(NEWLINE);
}

function renderCounter(
  out: Utf8Writer,
  name: string,
  rows: SeriesRow[],
  openMetrics: boolean,
  exemplars: Exemplars,
): void {
  const sample = utf8(openMetrics && !name.endsWith('_total') ? `${name}_total` : name);
  for (const r of rows) {
    sampleStart(out, sample, r[2]);
    out.number(r[3]);
    sampleEnd(out, exemplars.get(r[1])?.[0]);
  }
}

/**
 * OpenMetrics makes `_sum` a counter: it must not be negative or NaN, and a histogram with negative bucket
 * bounds must have no `_sum` (and so no `_count`, which requires it). Such series are rendered with their
 * buckets only in OpenMetrics (issue 13 §1.7; the rule of the OpenMetrics 1.0 spec, as Python's parser
 * enforces it); the Prometheus text format, which allows them, keeps both.
 */
const counterLike = (v: number) => v >= 0;

/**
 * A series' labels are encoded once, in its first bucket line (`name_bucket{labels,le="0.005"} 1`); the
 * other bucket lines copy that line's start, and `_sum` and `_count` copy its labels.
 */
function renderHistogram(
  out: Utf8Writer,
  name: string,
  rows: SeriesRow[],
  bounds: number[],
  openMetrics: boolean,
  exemplars: Exemplars,
): void {
  const le = [...bounds.map((b) => `le="${formatNumber(b)}"} `), 'le="+Inf"} '].map(utf8);
  const bucket = utf8(`${name}_bucket{`);
  const sumName = utf8(`${name}_sum`);
  const countName = utf8(`${name}_count`);
  const n = bounds.length;
  const negativeBounds = openMetrics && bounds.some((b) => b < 0);
  if (values.length < n + 2) values = new Float64Array(n + 2);
  const v = values;
  for (const r of rows) {
    if (!vectorInto(r[4], n + 2, v)) continue;
    const labels = r[2];
    const ex = exemplars.get(r[1]);
    const count = v[n + 1] as number;
    const start = out.length;
    out.bytes(bucket);
    const labelsStart = out.length;
    if (labels) {
      out.text(labels);
      out.byte(COMMA);
    }
    const end = out.length;
    let acc = 0;
    for (let i = 0; i <= n; i++) {
      if (i > 0) out.repeat(start, end);
      out.bytes(le[i] as Buffer);
      if (i < n) acc += v[i] as number;
      out.number(i < n ? acc : count);
      sampleEnd(out, ex?.[i]);
    }
    const sum = v[n] as number;
    if (openMetrics && (negativeBounds || !counterLike(sum))) continue;
    const labelsEnd = labels ? end - 1 : end;
    copiedSample(out, sumName, labelsStart, labelsEnd, sum);
    copiedSample(out, countName, labelsStart, labelsEnd, count);
  }
}

/** `name{labels} value`, its labels copied from `out`'s bytes `[from, to)` (none when empty). */
function copiedSample(out: Utf8Writer, name: Buffer, from: number, to: number, value: number): void {
  out.bytes(name);
  if (to > from) {
    out.byte(OPEN_BRACE);
    out.repeat(from, to);
    out.byte(CLOSE_BRACE);
  }
  out.byte(SPACE);
  out.number(value);
  out.byte(NEWLINE);
}

function renderSummary(out: Utf8Writer, name: string, rows: SeriesRow[], openMetrics: boolean): void {
  const v = values;
  const sumName = utf8(`${name}_sum`);
  const countName = utf8(`${name}_count`);
  for (const r of rows) {
    if (!vectorInto(r[4], 2, v)) continue;
    const sum = v[0] as number;
    // A summary may carry _count alone; OpenMetrics rejects a negative or NaN _sum (a counter).
    if (!openMetrics || counterLike(sum)) {
      sampleStart(out, sumName, r[2]);
      out.number(sum);
      out.byte(NEWLINE);
    }
    sampleStart(out, countName, r[2]);
    out.number(v[1] as number);
    out.byte(NEWLINE);
  }
}

function renderGauge(
  out: Utf8Writer,
  name: string,
  rows: SeriesRow[],
  mode: GaugeMode,
  gaugeValues: Map<number, GaugeRow[]>,
  writers: Map<number, WriterView>,
  pidLabel: string,
): void {
  const sample = utf8(name);
  for (const r of rows) {
    const values = (gaugeValues.get(r[1]) ?? []).filter((g) => counts(mode, writers.get(g[1])));
    if (mode.perProcess) {
      for (const g of values.sort((a, b) => (writers.get(a[1])?.row.pid ?? 0) - (writers.get(b[1])?.row.pid ?? 0))) {
        const pid = `${pidLabel}="${writers.get(g[1])?.row.pid ?? 0}"`;
        sampleStart(out, sample, r[2] ? `${r[2]},${pid}` : pid);
        out.number(g[2] ?? Number.NaN);
        out.byte(NEWLINE);
      }
      continue;
    }
    const retired = !mode.liveOnly && r[5] !== null ? { value: r[3], at: r[5] } : undefined;
    const v = mode.combine(values, retired);
    if (v === undefined) continue;
    sampleStart(out, sample, r[2]);
    out.number(v);
    out.byte(NEWLINE);
  }
}

const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const COMMA = 0x2c;
