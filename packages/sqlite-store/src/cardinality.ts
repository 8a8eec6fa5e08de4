/**
 * The per-metric bound on stored series (issue 16 §2), after OpenTelemetry's SDK cardinality limit: a
 * metric keeps at most `maxSeries` series rows, the overflow series included (up to `maxSeries - 1` label
 * sets of its own, then one series labelled `kci_overflow="true"` and nothing else, as OpenTelemetry's
 * overflow point carries `otel.metric.overflow=true` alone). Counters, histograms and summaries beyond the
 * bound are added into the overflow series (bucket-wise for histograms), so a metric's total stays exact;
 * gauge series beyond it are dropped, since a sum of unrelated gauges means nothing in any mode.
 *
 * The database is the arbiter: a series row is admitted only inside the flush's IMMEDIATE transaction,
 * which holds the write lock, so two processes racing for the last free rows are serialised and the
 * second one counts the first one's rows. The bound counts the rows stored for the metric by every
 * process of the host; each process applies the limit its own definition of the metric carries.
 *
 * Folded label sets are counted once per process and metric in the `meta` table (key
 * `series_overflow:<metric id>:<signature>`: SQLite reuses the id of a replaced definition, and the new one
 * starts from zero), read by `health()`.
 */
import type Database from 'better-sqlite3';
import type { MetricDef } from './describe.js';
import { ConfigError } from './errors.js';
import { findSeries, seriesRow } from './series.js';
import type { Statements } from './statements.js';

/** OpenTelemetry's SDK default cardinality limit per metric stream. */
export const DEFAULT_MAX_SERIES = 2000;
export const MAX_SERIES_CEILING = 10_000_000;
export const MAX_SERIES_ENV = 'PROMETHEUS_METRICS_MAX_SERIES';

/** The label set of a metric's overflow series, as stored (and rendered). */
export const OVERFLOW_LABELS = 'kci_overflow="true"';
const META_PREFIX = 'series_overflow:';

/**
 * Parse `PROMETHEUS_METRICS_MAX_SERIES` (an integer 1-10000000; unset or empty: the default 2000).
 * Throws a ConfigError naming the variable and the value.
 *
 * @example
 * parseMaxSeries(process.env.PROMETHEUS_METRICS_MAX_SERIES); // 2000 when unset
 */
export function parseMaxSeries(raw: string | undefined, key = MAX_SERIES_ENV): number {
  if (raw === undefined || raw.trim() === '') return DEFAULT_MAX_SERIES;
  const v = raw.trim();
  if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > MAX_SERIES_CEILING) {
    throw new ConfigError(
      key,
      raw,
      `an integer 1-${MAX_SERIES_CEILING} (series per metric, the overflow series included)`,
    );
  }
  return Number(v);
}

/** A metric's own `maxSeries` setting, or the reason it is not usable. */
function ownLimit(metric: object): number | string | undefined {
  const raw = (metric as { maxSeries?: unknown }).maxSeries;
  if (raw === undefined) return undefined;
  if (typeof raw === 'number' && Number.isInteger(raw) && raw >= 1 && raw <= MAX_SERIES_CEILING) return raw;
  return `invalid maxSeries ${typeof raw === 'string' ? JSON.stringify(raw) : String(raw)}: expected an integer 1-${MAX_SERIES_CEILING}`;
}

interface Queries {
  count: Database.Statement;
  overflows: Database.Statement;
}

const queries = new WeakMap<Database.Database, Queries>();

function queriesOf(db: Database.Database): Queries {
  let q = queries.get(db);
  if (!q) {
    q = {
      count: db.prepare('SELECT count(*) FROM series WHERE metric_id = ?').pluck(true),
      overflows: db.prepare(
        `SELECT m.name AS metric, x.value AS series FROM meta x
         JOIN metrics m ON x.key = '${META_PREFIX}' || m.id || ':' || m.signature
         ORDER BY m.name`,
      ),
    };
    queries.set(db, q);
  }
  return q;
}

/** What the writer tells the store about a flush (same shape as writer.ts's FlushNotice). */
interface Notice {
  metric: string;
  message: string;
  text?: string;
}

/** Returns the series row for a label set: its own, the overflow series', or undefined (a gauge series dropped). */
export type Admit = (labels: string) => number | undefined;

export class CardinalityBound {
  /** Label sets this process counted as folded, per metric row and definition (`<id>:<signature>\0<labels>`). */
  private readonly folded = new Set<string>();
  /** Folded in the current flush, counted when it commits. */
  private readonly pending = new Map<string, { metricId: number; def: MetricDef; limit: number; first: string }>();

  constructor(private readonly defaultLimit: number) {}

  /**
   * The admission function for one metric in one flush (call inside the flush's transaction). Series the
   * process already has a row id for never come here: only label sets new to this process (or to this
   * connection) are admitted, so an idle flush costs nothing.
   */
  admitter(s: Statements, def: MetricDef, metric: object, metricId: number, notices: Notice[]): Admit {
    const own = ownLimit(metric);
    if (typeof own === 'string') {
      notices.push({ metric: def.name, message: own, text: `metric ${def.name}: ${own}; using ${this.defaultLimit}` });
    }
    const limit = typeof own === 'number' ? own : this.defaultLimit;
    const q = queriesOf(s.insertSeries.database);
    const gauge = def.type === 'gauge';
    // Read once per metric and flush, at its first new label set; kept exact while this flush adds rows.
    let regular = -1; // rows of the metric's own label sets
    let overflowId: number | undefined;
    const row = `${metricId}:${def.signature}`;
    return (labels) => {
      // A dropped gauge series stays dropped in this process (no lookup at every flush of a flood).
      if (gauge && this.folded.has(`${row}\0${labels}`)) return undefined;
      if (regular < 0) {
        overflowId = findSeries(s, metricId, OVERFLOW_LABELS);
        regular = (q.count.get(metricId) as number) - (overflowId === undefined ? 0 : 1);
      }
      if (labels !== OVERFLOW_LABELS && regular < limit - 1) {
        const id = seriesRow(s, metricId, labels);
        // seriesRow may have found an existing row: count exactly once the estimate reaches the bound.
        regular++;
        if (regular >= limit - 1) regular = (q.count.get(metricId) as number) - (overflowId === undefined ? 0 : 1);
        return id;
      }
      const existing = findSeries(s, metricId, labels);
      if (existing !== undefined) return existing;
      this.fold(row, metricId, def, limit, labels);
      if (gauge) return undefined;
      overflowId ??= seriesRow(s, metricId, OVERFLOW_LABELS);
      return overflowId;
    };
  }

  private fold(row: string, metricId: number, def: MetricDef, limit: number, labels: string): void {
    const key = `${row}\0${labels}`;
    if (this.folded.has(key) || this.pending.has(key)) return;
    this.pending.set(key, { metricId, def, limit, first: labels });
  }

  /**
   * Count what this flush folded (inside its transaction, after the writer wrote) and log, once per metric,
   * in the process that folds a metric's first label set. Returns the step to run once the flush committed.
   */
  finish(s: Statements, notices: Notice[]): () => void {
    if (this.pending.size === 0) return () => {};
    const byMetric = new Map<number, { n: number; def: MetricDef; limit: number; first: string }>();
    for (const p of this.pending.values()) {
      const m = byMetric.get(p.metricId);
      if (m) m.n++;
      else byMetric.set(p.metricId, { n: 1, def: p.def, limit: p.limit, first: p.first });
    }
    for (const [metricId, m] of byMetric) {
      const key = `${META_PREFIX}${metricId}:${m.def.signature}`;
      const before = s.getMeta.get(key) as { value: number } | undefined;
      s.addMeta.run({ key, n: m.n });
      if (before !== undefined) continue;
      const where =
        m.def.type === 'gauge'
          ? 'further gauge series are dropped (not stored)'
          : `further label sets are added into its {${OVERFLOW_LABELS}} series, so its total stays exact`;
      notices.push({
        metric: m.def.name,
        message: 'series limit',
        text: `metric ${m.def.name} reached its limit of ${m.limit} stored series (maxSeries, ${MAX_SERIES_ENV}): ${where}; first folded: {${m.first}}. A label fed with unbounded values (ids, raw URLs)? See health().seriesOverflows`,
      });
    }
    const keys = [...this.pending.keys()];
    return () => {
      for (const k of keys) {
        this.folded.add(k);
        this.pending.delete(k);
      }
    };
  }
}

/** Metrics that reached their bound, with the number of label sets folded (counted once per process). */
export function seriesOverflows(db: Database.Database): Array<{ metric: string; series: number }> {
  return (queriesOf(db).overflows.all() as Array<{ metric: string; series: number }>).map((r) => ({
    metric: r.metric,
    series: Number(r.series),
  }));
}
