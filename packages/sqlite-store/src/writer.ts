import type { Registry } from 'prom-client';
import { describeMetric, explainConflict, fillVector, type MetricDef, type PromMetric, vectorLength } from './describe.js';
import { isAlive, type ProcessIdentity, type WriterRow } from './identity.js';
import { RowBatch } from './batch.js';
import { encodeLabels } from './labels.js';
import type { Statements } from './statements.js';
import { VectorScratch } from './vectors.js';

interface SeriesState {
  labels: string;
  id: number | undefined;
  /** Value last written: a number (counter, gauge) or a vector (histogram, summary). */
  last: number | Float64Array | undefined;
  /** A vector to fill at the next flush; it becomes `last` once that flush commits (no per-flush allocation). */
  spare: Float64Array | undefined;
}

interface MetricState {
  def: MetricDef | undefined;
  id: number | undefined;
  series: Map<string, SeriesState>;
}

/** What the store reports about a flush that wrote but could not store some metric. */
export interface FlushNotice {
  metric: string;
  message: string;
}

/**
 * The worker side: reads attached prom-client registries synchronously (prom-client's own get() is async;
 * its metric objects keep their values in `hashMap`) and writes what changed since the last flush in one
 * short IMMEDIATE transaction. Nothing in memory is updated unless the transaction commits, so a failed
 * flush loses nothing and a retried one counts nothing twice.
 */
export class Writer {
  readonly registries: Registry[] = [];
  private readonly states = new Map<PromMetric, MetricState>();
  private writerId: number | undefined;
  private readonly scratch = new VectorScratch();
  /** The batched updaters of each connection's statements, made once and emptied before each metric. */
  private readonly rowBatches = new WeakMap<Statements, { values: RowBatch; vectors: RowBatch }>();
  /** Flushes that failed since the last one that succeeded; reported with the next success. */
  failedFlushes = 0;

  constructor(
    private readonly identity: ProcessIdentity,
    private readonly intervalMs: number,
  ) {}

  private batches(s: Statements): { values: RowBatch; vectors: RowBatch } {
    let batches = this.rowBatches.get(s);
    if (!batches) {
      batches = {
        values: new RowBatch(s.addValues, s.addValue, s.seriesExists),
        vectors: new RowBatch(s.setVectors, s.setVector, s.seriesExists),
      };
      this.rowBatches.set(s, batches);
    }
    return batches;
  }

  /** Forget every database id (after a reconnect, or a rolled-back transaction that may have minted some). */
  forgetIds(): void {
    this.writerId = undefined;
    for (const st of this.states.values()) {
      st.id = undefined;
      for (const ss of st.series.values()) ss.id = undefined;
    }
  }

  /** Run inside a transaction. Returns the commit step, to call only once the transaction committed. */
  write(s: Statements, now: number, exiting: boolean, notices: FlushNotice[]): () => void {
    const commits: Array<() => void> = [];
    const reported = this.failedFlushes;
    let wid = this.writerId;
    let fresh = false;
    if (wid === undefined && this.identity.startTicks) {
      // Our id is forgotten after a failed flush or a reconnect, not our row: take it up again, or this
      // process would count twice (live writers, live gauge modes) beside a stalled twin of itself.
      const id = this.identity;
      wid = (s.findWriter.get(id.pid, id.host, id.bootId, id.startTicks) as { id: number } | undefined)?.id;
      fresh = true;
    }
    if (wid === undefined || s.touchWriter.run(now, reported, exiting ? 1 : 0, exiting ? 1 : 0, now, wid).changes === 0) {
      // First flush, or our row was folded (we were taken for dead): register anew and rewrite our gauges.
      const id = this.identity;
      wid = (s.insertWriter.get(id.pid, id.host, id.bootId, id.startTicks, now, now, this.intervalMs, reported) as { id: number }).id;
      if (exiting) s.touchWriter.run(now, 0, 1, 1, now, wid);
      fresh = true;
    }
    const writerId = wid;
    commits.push(() => {
      this.writerId = writerId;
      this.failedFlushes -= reported;
    });
    for (const registry of this.registries) {
      const defaults = (registry as unknown as { _defaultLabels?: Record<string, unknown> })._defaultLabels;
      const hasDefaults = defaults !== undefined && Object.keys(defaults).length > 0 ? defaults : undefined;
      for (const metric of registry.getMetricsAsArray() as unknown as PromMetric[]) {
        this.writeMetric(s, metric, writerId, fresh, now, hasDefaults, commits, notices);
      }
    }
    return () => {
      for (const c of commits) c();
    };
  }

  private writeMetric(
    s: Statements,
    metric: PromMetric,
    wid: number,
    fresh: boolean,
    now: number,
    defaults: Record<string, unknown> | undefined,
    commits: Array<() => void>,
    notices: FlushNotice[],
  ): void {
    let st = this.states.get(metric);
    if (!st) {
      const def = describeMetric(metric);
      if (typeof def === 'string') notices.push({ metric: metric.name, message: def });
      st = { def: typeof def === 'string' ? undefined : def, id: undefined, series: new Map() };
      this.states.set(metric, st);
    }
    const def = st.def;
    if (!def) return;
    runCollect(metric);

    let mid = fresh ? undefined : st.id;
    if (mid === undefined) {
      const resolved = resolveMetric(s, def, wid, now);
      if (typeof resolved === 'string') {
        notices.push({ metric: def.name, message: resolved });
        return;
      }
      mid = resolved;
      const state = st;
      const metricId = mid;
      const changed = st.id !== mid;
      commits.push(() => {
        if (changed) for (const ss of state.series.values()) ss.id = undefined;
        state.id = metricId;
      });
      if (changed) fresh = true; // a new metric row: every series id must be resolved again
    }
    const metricId = mid;
    const hashMap = metric.hashMap;
    const isGauge = def.type === 'gauge';
    const isCounter = def.type === 'counter';
    const state = st;
    let stale = false;
    const missing = () => {
      if (!stale) commits.push(staleIds(state));
      stale = true;
    };
    const batch = isGauge ? undefined : this.batches(s)[isCounter ? 'values' : 'vectors'];
    batch?.clear(); // a flush that threw half-way left its rows here
    for (const hash in hashMap) {
      const entry = hashMap[hash];
      if (!entry) continue;
      let ss = st.series.get(hash);
      if (!ss) {
        ss = { labels: encodeLabels(def.labelNames, entry.labels, defaults), id: undefined, last: undefined, spare: undefined };
        st.series.set(hash, ss);
      }
      const known = fresh ? undefined : ss.id;
      if (isCounter || isGauge) {
        const v = entry.value ?? 0;
        const last = ss.last as number | undefined;
        if (known !== undefined && last === v) continue;
        const sid = known ?? seriesId(s, metricId, ss.labels);
        if (isGauge) {
          s.setGauge.run(sid, wid, v, now);
          commits.push(written(ss, sid, v));
          continue;
        }
        // A value below the last written one means the counter was reset in this process.
        const delta = last === undefined || v < last ? v : v - last;
        if (delta === 0) commits.push(written(ss, sid, v));
        else (batch as RowBatch).add(sid, delta, () => commits.push(written(ss, sid, v)), missing);
      } else {
        const last = ss.last as Float64Array | undefined;
        // Every observation changes count and sum: when both are as last written, nothing changed, and
        // the vectors need not be built (idle histograms were most of an idle flush's cost).
        if (known !== undefined && last && entry.count === last[last.length - 1] && entry.sum === last[last.length - 2]) {
          continue;
        }
        const n = vectorLength(def);
        const v = fillVector(def, entry, ss.spare?.length === n ? ss.spare : new Float64Array(n));
        const delta = this.scratch.deltaOf(v, last);
        if (delta === undefined && known !== undefined) continue;
        const sid = known ?? seriesId(s, metricId, ss.labels);
        if (delta === undefined) {
          commits.push(writtenVector(ss, sid, v));
          continue;
        }
        // Read, add, write: we hold the write lock (IMMEDIATE), so no other process adds in between.
        const stored = s.readVector.get(sid) as Uint8Array | null | undefined;
        if (stored === undefined) {
          missing();
          continue;
        }
        const rows = batch as RowBatch;
        const sum = this.scratch.added(stored, delta, n, rows.slot);
        rows.add(sid, sum, () => commits.push(writtenVector(ss, sid, v)), missing);
      }
    }
    batch?.finish();
    if (isGauge && st.series.size > Object.keys(hashMap).length) {
      // gauge.remove(labels) / reset(): this process no longer reports those series.
      for (const [hash, ss] of st.series) {
        if (hash in hashMap) continue;
        if (ss.id !== undefined) s.deleteGauge.run(ss.id, wid);
        const series = st.series;
        commits.push(() => series.delete(hash));
      }
    }
  }
}

/** The commit step of one series: its row id and the value now stored for it. */
function written(state: SeriesState, id: number, value: number | Float64Array): () => void {
  return () => {
    state.id = id;
    state.last = value;
  };
}

/** The commit step of a vector series: the vector written becomes `last`, the one it replaces the next spare. */
function writtenVector(state: SeriesState, id: number, value: Float64Array): () => void {
  return () => {
    const previous = state.last;
    state.id = id;
    state.last = value;
    state.spare = previous instanceof Float64Array && previous !== value ? previous : undefined;
  };
}

/**
 * Our cached ids point at rows that are gone (the metric was replaced by another process): resolve the
 * metric and its series again at the next flush. The unwritten delta stays pending, so nothing is lost.
 */
function staleIds(st: MetricState): () => void {
  return () => {
    st.id = undefined;
    for (const ss of st.series.values()) ss.id = undefined;
  };
}

function runCollect(metric: PromMetric): void {
  if (typeof metric.collect !== 'function') return;
  try {
    const r = metric.collect() as { then?: unknown; catch?: (f: () => void) => void } | undefined;
    // An async collect() finishes after this flush; its values are written at the next one.
    if (r && typeof r.then === 'function' && typeof r.catch === 'function') r.catch(() => {});
  } catch {
    // A failing collect callback is the metric owner's bug; the values it left are still written.
  }
}

function seriesId(s: Statements, metricId: number, labels: string): number {
  return (s.upsertSeries.get(metricId, labels) as { id: number }).id;
}

/**
 * Find or create the metric row. A different definition under the same name replaces the stored one when
 * no live process declared it (a deploy changed the metric: its old values go); otherwise it is a
 * conflict, recorded for the aggregator, and this process's values for it are not stored.
 */
function resolveMetric(s: Statements, def: MetricDef, wid: number, now: number): number | string {
  const row = s.selectMetric.get(def.name) as { id: number; signature: string; help: string } | undefined;
  if (row && row.signature === def.signature) {
    if (row.help !== def.help) s.updateHelp.run(def.help, row.id);
    s.declare.run(wid, row.id);
    return row.id;
  }
  if (row) {
    const holders = s.holders.all(row.id, wid) as WriterRow[];
    if (holders.some((w) => w.dead_at === null && isAlive(w, now))) {
      const detail = explainConflict(row.signature, def.signature);
      s.recordConflict.run(def.name, wid, detail, now);
      return `definition conflicts with the one stored by another live process (${detail}); this process's values for it are not stored`;
    }
    s.dropMetricGauges.run(row.id);
    s.dropMetricSeries.run(row.id);
    s.dropMetricDeclarations.run(row.id);
    s.dropMetricConflicts.run(def.name);
    s.dropMetric.run(row.id);
  }
  const id = (
    s.insertMetric.get(
      def.name,
      def.type,
      def.help,
      JSON.stringify(def.labelNames),
      def.buckets ? JSON.stringify(def.buckets) : null,
      def.mode ?? null,
      def.signature,
    ) as { id: number }
  ).id;
  s.declare.run(wid, id);
  return id;
}
