import type { Registry } from 'prom-client';
import { type Admit, CardinalityBound, DEFAULT_MAX_SERIES } from './cardinality.js';
import { attach, ChangeLog, isQueued, keyOf, ownerOf } from './change-log.js';
import { DeltaBuffer, foldDeltas, logOpen } from './delta-log.js';
import { bucketKeys, describeMetric, explainConflict, type MetricDef, vectorLength } from './describe.js';
import {
  counterExemplars,
  ExemplarBatch,
  histogramExemplars,
  type SeriesExemplars,
  writeExemplars,
} from './exemplars.js';
import { isAlive, type ProcessIdentity, type WriterRow } from './identity.js';
import { encodeLabels } from './labels.js';
import { KINDS } from './merge.js';
import {
  checkedEntries,
  checkPromClient,
  defaultLabelsOf,
  entryCount,
  entryKey,
  entryLabels,
  entrySum,
  entryValue,
  fillVector,
  internalEntries,
  type PromEntry,
  type PromMetric,
  promClientVersion,
  publicEntries,
} from './prom-internals.js';
import type { Statements } from './statements.js';
import { VectorScratch } from './vectors.js';

interface SeriesState {
  /** Key of the series in its metric's entries. */
  hash: string;
  labels: string;
  id: number | undefined;
  /** Value last written from `entry`: a number (counter, gauge) or a vector (histogram, summary). */
  last: number | Float64Array | undefined;
  /** A vector to fill at the next flush; it becomes `last` once that flush commits (no per-flush allocation). */
  spare: Float64Array | undefined;
  /**
   * The prom-client entry `last` was read from. reset() and remove() replace entries (or, Summary.reset(),
   * zero them in place): whatever an entry held beyond `last` is moved to `carry` first, so nothing
   * recorded is lost (issue 13 §1.1).
   */
  entry: PromEntry | undefined;
  /** Counter increments recorded in entries that are gone, not yet written. */
  carry: number;
  /** The same for histograms and summaries (allocated only after a reset or remove). */
  carryVector: Float64Array | undefined;
  /** The value is NaN (counter.inc(NaN)): not storable, counted once, skipped until the entry is replaced. */
  nan: boolean;
  /** The flush that last saw this series among its metric's entries. */
  seen: number;
  /** The exemplars last written for it, by slot (only for metrics with `enableExemplars`). */
  exemplars: SeriesExemplars | undefined;
  /** The flush that last visited it (a series the change log names twice is written once). */
  visited: number;
}

interface MetricState {
  metric: PromMetric;
  def: MetricDef | undefined;
  id: number | undefined;
  series: Map<string, SeriesState>;
  /** The registry's default labels, as last seen (new series are labelled with them). */
  defaults: Record<string, unknown> | undefined;
  /** prom-client keeps this metric's values where this store cannot read them: read through `metric.get()`. */
  viaPublicApi: boolean;
  /** The latest public read, written at the next flush. */
  snapshot: Record<string, PromEntry> | undefined;
  /** Series that reset()/remove() took away, with their unwritten part: written, then dropped, at the next flush. */
  detached: SeriesState[];
  /** The flush that last found the metric in an attached registry. */
  seen: number;
  /** Registered under the same name as another metric of an attached registry: reported once, not stored. */
  duplicate: boolean;
  /** Which series changed since the last flush (change-log.ts); undefined: every series is compared. */
  log: ChangeLog | undefined;
  /** Compare every series at the next flush (first sight, after reset()/remove()/zero(), after a failed flush). */
  rescan: boolean;
  /** The rolling look (Writer.look) found a series the log cannot vouch for: compare every series next flush. */
  verifyNext: boolean;
  /** The keys the rolling look walks, taken once per round, where it is in them, and when it last looked. */
  lookKeys: string[] | undefined;
  lookAt: number;
  lookedAt: number;
  /** The check (Writer.checkChanges) whose run of collect() this metric's values come from; 0: none. */
  collectedIn: number;
}

/** What the store reports about a flush that wrote but could not store some metric. */
export interface FlushNotice {
  metric: string;
  message: string;
  /** The whole log line, when it is not "metric X not stored: message". */
  text?: string;
}

const NO_ENTRIES: Record<string, PromEntry> = Object.freeze({}) as Record<string, PromEntry>;

/**
 * Within this time every series of a metric whose changes are tracked has been looked at once more, as it
 * would have been compared before there was a change log: a series the log cannot vouch for (its entry
 * replaced by code that is not prom-client 15's) makes the next flush compare every series of the metric;
 * a change found there that the log missed is written, and the metric is compared at every flush from then
 * on. The look is rolling: each flush interval's check takes its share of the series (at S=10000 and a
 * 1 s interval, 167 a second), so it is code that runs all the time (compiled, not interpreted) and no flush
 * stops the event loop for a pass over every series (it did for 50 ms at S=10000, once a minute).
 */
export const VERIFY_EVERY_MS = 60_000;

/**
 * The worker side: reads attached prom-client registries synchronously (through prom-internals.ts) and
 * writes what changed since the last flush in one short IMMEDIATE transaction. Nothing in memory is
 * updated unless the transaction commits, so a failed flush loses nothing and a retried one counts
 * nothing twice.
 */
export class Writer {
  readonly registries: Registry[] = [];
  private readonly states = new Map<PromMetric, MetricState>();
  /** States of metrics removed from every attached registry, kept in case the same object comes back. */
  private readonly retired = new WeakMap<PromMetric, MetricState>();
  private readonly hooked = new WeakSet<object>();
  private writerId: number | undefined;
  private readonly scratch = new VectorScratch();
  private tail = new Float64Array(16);
  /** The exemplar batch of each connection's statements, made once and emptied before each metric. */
  private readonly exemplarBatches = new WeakMap<Statements, ExemplarBatch>();
  /** What this flush adds to counters and vectors: one row of the delta log (delta-log.ts). */
  private readonly deltas = new DeltaBuffer();
  /** This flush writes to the delta log (it is below its bound); otherwise to the series rows. */
  private logging = true;
  private epoch = 0;
  private readonly names = new Map<string, PromMetric>();
  /** What could not be said at attach() time; logged with the next flush. */
  private readonly pending: FlushNotice[] = [];
  /** Why prom-client's internals cannot be read (every metric then goes through its public API), if so. */
  private internalsProblem: string | undefined | null = null;
  /** Flushes that failed since the last one that succeeded; reported with the next success. */
  failedFlushes = 0;
  /** When the writer row's heartbeat is due again (a flush with nothing to write skips the transaction until then). */
  private heartbeatDue = 0;
  private verifying = false;
  /** Checks made by checkChanges(), and the one the write in progress follows (0: none). */
  private checks = 0;
  private check = 0;

  constructor(
    private readonly identity: ProcessIdentity,
    /** The longest time between two writes of this process's row while it lives (identity.ts, heartbeatEveryMs). */
    private readonly heartbeatMs: number,
    /** New series rows are admitted through it (issue 16 §2). */
    readonly bound = new CardinalityBound(DEFAULT_MAX_SERIES),
  ) {}

  /**
   * Start persisting a registry: check prom-client's internals (once), and observe reset() and remove() of
   * its metrics, those registered later included, so what they take away is carried forward.
   */
  attach(registry: Registry): void {
    if (this.registries.includes(registry)) return;
    if (this.internalsProblem === null) {
      this.internalsProblem = checkPromClient();
      if (this.internalsProblem !== undefined) {
        this.pending.push({
          metric: '*',
          message: this.internalsProblem,
          text: `prom-client ${promClientVersion()} keeps its values differently from what this store reads (${this.internalsProblem}); reading every metric through prom-client's public API instead: values are written one flush later, and a clean exit writes the values of the last read`,
        });
      }
    }
    this.registries.push(registry);
    for (const metric of registry.getMetricsAsArray() as unknown as PromMetric[]) {
      this.stateOf(metric, defaultLabelsOf(registry));
    }
    if (!this.hooked.has(registry)) {
      this.hooked.add(registry);
      const register = registry.registerMetric;
      const writer = this;
      registry.registerMetric = function registerMetric(this: Registry, metric) {
        const r = register.call(this, metric);
        // prom-client registers a metric from its base constructor, before the subclass set its type: only
        // observe its resets now; it is described when first reset or flushed.
        writer.observeResets(metric as unknown as PromMetric, () => defaultLabelsOf(registry));
        return r;
      };
    }
  }

  private exemplarBatch(s: Statements): ExemplarBatch {
    let batch = this.exemplarBatches.get(s);
    if (!batch) {
      batch = new ExemplarBatch(s);
      this.exemplarBatches.set(s, batch);
    }
    return batch;
  }

  /** Forget every database id (after a reconnect, or a rolled-back transaction that may have minted some). */
  forgetIds(): void {
    this.writerId = undefined;
    for (const st of this.states.values()) {
      st.id = undefined;
      st.rescan = true;
      for (const ss of st.series.values()) ss.id = undefined;
    }
  }

  /** Whether some metric is read through prom-client's public (async) API: then call refresh() before flushing. */
  needsRefresh(): boolean {
    for (const st of this.states.values()) if (st.viaPublicApi && st.def) return true;
    return false;
  }

  /** Read the metrics that go through prom-client's public API; their values are written by the next flush. */
  async refresh(): Promise<void> {
    const reads: Promise<void>[] = [];
    for (const st of this.states.values()) {
      if (!st.viaPublicApi || !st.def) continue;
      reads.push(
        publicEntries(st.metric).then(
          (entries) => {
            st.snapshot = entries;
          },
          (err: unknown) => {
            this.pending.push({
              metric: st.metric.name,
              message: `get() failed: ${err instanceof Error ? err.message : String(err)}`,
            });
          },
        ),
      );
    }
    await Promise.all(reads);
  }

  /** The state of a metric, made (and its reset()/remove() observed) at first sight. */
  private stateOf(metric: PromMetric, defaults: Record<string, unknown> | undefined): MetricState {
    let st = this.states.get(metric);
    if (st) return st;
    st = this.retired.get(metric);
    if (st) {
      this.retired.delete(metric);
      this.states.set(metric, st);
      st.rescan = true;
      return st;
    }
    const def = describeMetric(metric);
    if (typeof def === 'string') this.pending.push({ metric: metric.name, message: def });
    const viaPublicApi = this.internalsProblem !== undefined || internalEntries(metric) === undefined;
    st = {
      metric,
      def: typeof def === 'string' ? undefined : def,
      id: undefined,
      series: new Map(),
      defaults,
      viaPublicApi,
      snapshot: undefined,
      detached: [],
      seen: 0,
      duplicate: false,
      log: undefined,
      rescan: true,
      verifyNext: false,
      lookKeys: undefined,
      lookAt: 0,
      lookedAt: 0,
      collectedIn: 0,
    };
    this.states.set(metric, st);
    const storage = st.def ? KINDS[st.def.type].storage : undefined;
    // Gauges are compared at every flush: Gauge.set() replaces its entry, which no hook of an entry sees.
    if (!viaPublicApi && storage !== undefined && storage !== 'per-process')
      st.log = new ChangeLog(storage === 'sum' ? 'value' : 'count');
    if (st.def && viaPublicApi && this.internalsProblem === undefined) {
      this.pending.push({
        metric: metric.name,
        message: 'unreadable internals',
        text: `metric ${metric.name}: its values are not kept where prom-client ${promClientVersion()} keeps them (no hashMap of entries); reading it through prom-client's public API instead (its values are written one flush later)`,
      });
    }
    if (st.def && !viaPublicApi && KINDS[st.def.type].storage !== 'per-process')
      this.observeResets(metric, () => defaults);
    return st;
  }

  /** Wrap the metric's own reset() and remove() (not its hot path) to carry forward what they take away. */
  private observeResets(metric: PromMetric, defaults: () => Record<string, unknown> | undefined): void {
    if (this.hooked.has(metric)) return;
    this.hooked.add(metric);
    const writer = this;
    const { reset, remove, zero } = metric;
    if (typeof zero === 'function') {
      // Histogram.zero() replaces an entry whole: the change log does not hear of it.
      metric.zero = function (this: unknown, ...args: unknown[]) {
        const st = writer.states.get(metric);
        if (st) st.rescan = true;
        return zero.apply(this, args);
      };
    }
    if (typeof reset === 'function') {
      metric.reset = function (this: unknown, ...args: unknown[]) {
        writer.beforeReset(metric, undefined, defaults);
        return reset.apply(this, args);
      };
    }
    if (typeof remove === 'function') {
      metric.remove = function (this: unknown, ...args: unknown[]) {
        writer.beforeReset(metric, args, defaults);
        return remove.apply(this, args);
      };
    }
  }

  /** Before `metric.reset()` (args undefined) or `metric.remove(...args)`: carry forward what goes. */
  private beforeReset(
    metric: PromMetric,
    removeArgs: unknown[] | undefined,
    defaults: () => Record<string, unknown> | undefined,
  ): void {
    try {
      const st = this.states.get(metric) ?? this.retired.get(metric) ?? this.stateOf(metric, defaults());
      st.rescan = true; // the entries are replaced (reset) or gone (remove): compare every series next time
      const def = st.def;
      const entries = checkedEntries(metric);
      if (!def || st.viaPublicApi || KINDS[def.type].storage === 'per-process' || !entries) return;
      const carry = (hash: string, entry: PromEntry | undefined) => {
        if (!entry) return;
        let ss = st.series.get(hash);
        if (!ss) {
          ss = newSeries(hash, encodeLabels(def.labelNames, entryLabels(entry), st.defaults));
          st.series.set(hash, ss);
        }
        if (ss.entry !== undefined && ss.entry !== entry) this.carryForward(def, ss, ss.entry);
        this.carryForward(def, ss, entry);
        if (!st.detached.includes(ss)) st.detached.push(ss);
      };
      if (removeArgs === undefined) for (const hash of Object.keys(entries)) carry(hash, entries[hash]);
      else {
        const hash = entryKey(metric, removeArgs);
        if (hash !== undefined) carry(hash, entries[hash]);
      }
    } catch {
      // Never let the store break the application's reset()/remove(); at worst the unflushed part is lost.
    }
  }

  /**
   * Move what `entry` holds beyond what was written from it into the series' carry, and start the series
   * over from zero (its next entry is counted in full). NaN parts are dropped (they cannot be stored).
   */
  private carryForward(def: MetricDef, ss: SeriesState, entry: PromEntry | undefined): void {
    if (entry) {
      const base = ss.entry === entry ? ss.last : undefined;
      const storage = KINDS[def.type].storage;
      if (storage === 'sum') {
        const v = entryValue(entry);
        const b = (base as number | undefined) ?? 0;
        const tail = v === b ? 0 : v - b;
        if (tail > 0) ss.carry += tail;
      } else if (storage === 'vector-sum') {
        const n = vectorLength(def);
        if (this.tail.length < n) this.tail = new Float64Array(n);
        const v = fillVector(def.type === 'summary', bucketKeys(def), entry, this.tail.subarray(0, n));
        const d = this.scratch.deltaOf(v, base as Float64Array | undefined);
        if (d) {
          const cv = ss.carryVector ?? new Float64Array(n);
          for (let i = 0; i < n; i++) {
            const x = d[i] as number;
            if (!Number.isNaN(x)) cv[i] = (cv[i] as number) + x;
          }
          ss.carryVector = cv;
        }
      }
    }
    ss.entry = undefined;
    if (KINDS[def.type].storage !== 'per-process') ss.last = undefined;
  }

  /**
   * Whether a flush now has anything to write (`changed`): a changed series, a new or removed metric,
   * something to report, or the heartbeat due; and the check's number. Runs the metrics' collect() callbacks
   * and takes the rolling look's share; the write that follows this check (given its number) does not run
   * them again. When nothing changed, the timer's flush takes no lock and writes nothing: an idle worker
   * costs a look at its change logs (issue 17); an explicit flush writes anyway. A check whose flush did not
   * follow, or failed, leaves nothing behind: the next check runs collect() again.
   */
  checkChanges(now: number): { check: number; changed: boolean } {
    const check = ++this.checks;
    return { check, changed: this.anythingToWrite(now, check) };
  }

  private anythingToWrite(now: number, check: number): boolean {
    if (this.writerId === undefined || this.pending.length > 0) return true;
    // Every metric is looked at, also when the heartbeat makes this flush write anyway: the rolling look
    // takes its share of the series at every check.
    let any = now >= this.heartbeatDue;
    let metrics = 0;
    for (const registry of this.registries) {
      for (const metric of registry.getMetricsAsArray() as unknown as PromMetric[]) {
        metrics++;
        const st = this.states.get(metric);
        if (!st) return true; // registered since the last flush
        if (!st.def || st.duplicate) continue;
        if (!st.viaPublicApi) {
          runCollect(metric);
          st.collectedIn = check;
        }
        if (st.log && !st.verifyNext) this.look(st, now);
        if (!any && this.hasChanges(st)) any = true;
      }
    }
    return any || metrics !== this.states.size; // one was removed (or is in two registries: then always written)
  }

  /**
   * The rolling look (VERIFY_EVERY_MS): the share of the metric's series that the time since the last look
   * stands for, each checked without a write. A series passes when its entry is tracked by the metric's log
   * and is still the one its state was written from, with nothing carried over (or when the log has it
   * already: the flush visits it). Anything else makes the next flush compare every series.
   */
  private look(st: MetricState, now: number): void {
    const log = st.log as ChangeLog;
    const entries = checkedEntries(st.metric);
    if (entries === undefined || log.map !== entries || st.lookedAt === 0) {
      st.lookedAt = now; // a replaced map is compared in full anyway (hasChanges); a new metric starts now
      return;
    }
    let keys = st.lookKeys;
    if (keys === undefined || st.lookAt >= keys.length) {
      keys = Object.keys(entries);
      st.lookKeys = keys;
      st.lookAt = 0;
    }
    const share = Math.min(1, Math.max(0, now - st.lookedAt) / VERIFY_EVERY_MS);
    st.lookedAt = now;
    const end = Math.min(keys.length, st.lookAt + Math.ceil(keys.length * share));
    for (let i = st.lookAt; i < end; i++) {
      const entry = entries[keys[i] as string];
      if (entry === undefined || isQueued(entry)) continue; // gone (its key is walked once more), or logged
      if (vouchedFor(log, entry, ownStateOf(entry))) continue;
      st.verifyNext = true;
      break;
    }
    st.lookAt = end;
  }

  private hasChanges(st: MetricState): boolean {
    if (st.rescan || st.verifyNext || st.id === undefined || st.viaPublicApi || st.detached.length > 0) return true;
    const entries = checkedEntries(st.metric) ?? NO_ENTRIES;
    const log = st.log;
    if (log) return log.changed.length > 0 || log.map !== entries;
    if (KINDS[(st.def as MetricDef).type].storage !== 'per-process') return true; // not tracked: compared in the flush
    let n = 0;
    for (const hash in entries) {
      const entry = entries[hash] as PromEntry;
      const ss = st.series.get(hash);
      if (!ss || ss.id === undefined || ss.last !== entryValue(entry)) return true;
      n++;
    }
    return n !== st.series.size;
  }

  /**
   * Run inside a transaction. Returns the commit step, to call only once the transaction committed.
   * `check`: the number checkChanges() gave for this flush, if it ran (the collect() it ran stands).
   */
  write(s: Statements, now: number, exiting: boolean, notices: FlushNotice[], check = 0): () => void {
    this.check = check;
    const commits: Array<() => void> = [];
    this.deltas.clear(); // a flush that threw half-way (rolled back) left its entries here
    this.logging = logOpen(s);
    // The exit flush compares everything too: a clean exit writes every change, heard or not.
    this.verifying = exiting;
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
    if (
      wid === undefined ||
      s.touchWriter.run(now, reported, exiting ? 1 : 0, exiting ? 1 : 0, now, wid).changes === 0
    ) {
      // First flush, or our row was folded (we were taken for dead): register anew and rewrite our gauges.
      const id = this.identity;
      wid = (
        s.insertWriter.get(id.pid, id.host, id.bootId, id.startTicks, now, now, this.heartbeatMs, reported) as {
          id: number;
        }
      ).id;
      if (exiting) s.touchWriter.run(now, 0, 1, 1, now, wid);
      fresh = true;
    }
    const writerId = wid;
    commits.push(() => {
      this.writerId = writerId;
      this.failedFlushes -= reported;
      this.heartbeatDue = now + this.heartbeatMs;
    });
    const epoch = ++this.epoch;
    const names = this.registries.length > 1 ? this.names : undefined;
    names?.clear();
    const unstorable = { count: 0 };
    for (const registry of this.registries) {
      const defaults = defaultLabelsOf(registry);
      for (const metric of registry.getMetricsAsArray() as unknown as PromMetric[]) {
        const st = this.stateOf(metric, defaults);
        st.defaults = defaults;
        if (names) {
          // The same name in two attached registries of this process: prom-client would render it twice
          // (an invalid exposition), and summing two unrelated metrics is wrong: the first one is stored.
          const first = names.get(metric.name);
          if (first !== undefined) {
            if (first !== metric) this.reportDuplicate(s, st, writerId, now, notices, commits);
            st.seen = epoch;
            continue;
          }
          names.set(metric.name, metric);
        }
        st.seen = epoch;
        this.writeMetric(s, st, writerId, fresh, now, epoch, unstorable, commits, notices);
      }
    }
    // Metrics no longer in any attached registry (registry.removeSingleMetric(), clear()): like reset(),
    // what they recorded since the last flush is written and their counter totals stay; this process's
    // gauge values for them are withdrawn (issue 13 §1.5).
    for (const st of this.states.values()) {
      if (st.seen !== epoch) this.retire(s, st, writerId, fresh, now, epoch, unstorable, commits, notices);
    }
    if (unstorable.count > 0) s.addMeta.run({ key: 'unstorable_values', n: unstorable.count });
    // After the metrics were read: what their first sight found (e.g. a collector that cannot be stored) is
    // reported by this flush, also when it is the process's only one (a short job that flushes at exit).
    if (this.pending.length > 0) notices.push(...this.pending.splice(0));
    for (const [entries, body] of this.deltas.rows()) s.insertDeltas.run(writerId, now, entries, body);
    return () => {
      for (const c of commits) c();
    };
  }

  private reportDuplicate(
    s: Statements,
    st: MetricState,
    wid: number,
    now: number,
    notices: FlushNotice[],
    commits: Array<() => void>,
  ): void {
    if (st.duplicate) return;
    const name = st.metric.name;
    const detail = "registered in two attached registries of one process; only the first registry's is stored";
    s.recordConflict.run(name, wid, detail, now);
    notices.push({ metric: name, message: detail });
    commits.push(() => {
      st.duplicate = true;
    });
  }

  private retire(
    s: Statements,
    st: MetricState,
    wid: number,
    fresh: boolean,
    now: number,
    epoch: number,
    unstorable: { count: number },
    commits: Array<() => void>,
    notices: FlushNotice[],
  ): void {
    if (st.def) {
      this.writeMetric(s, st, wid, fresh, now, epoch, unstorable, commits, notices);
      const mid = st.id;
      if (KINDS[st.def.type].storage === 'per-process')
        for (const ss of st.series.values()) if (ss.id !== undefined) s.deleteGauge.run(ss.id, wid);
      if (mid !== undefined) s.undeclare.run(wid, mid);
    }
    commits.push(() => {
      if (st.seen === epoch) return;
      st.id = undefined;
      if (st.def && KINDS[st.def.type].storage === 'per-process') st.series.clear();
      this.states.delete(st.metric);
      this.retired.set(st.metric, st);
    });
  }

  private writeMetric(
    s: Statements,
    st: MetricState,
    wid: number,
    fresh: boolean,
    now: number,
    epoch: number,
    unstorable: { count: number },
    commits: Array<() => void>,
    notices: FlushNotice[],
  ): void {
    const def = st.def;
    if (!def || st.duplicate) return;
    const metric = st.metric;
    const viaPublicApi = st.viaPublicApi;
    if (!viaPublicApi && (this.check === 0 || st.collectedIn !== this.check)) runCollect(metric);

    let mid = fresh ? undefined : st.id;
    // Our series ids are valid while the metric row is ours: series rows are deleted only with their metric
    // (another process replaced it while this one was taken for dead, or cleared the store). Deltas go to
    // the log unchecked (delta-log.ts), so this is checked here, once per metric and flush.
    const lost = mid !== undefined && s.metricSignature.get(mid) !== def.signature;
    if (lost) mid = undefined;
    if (mid === undefined) {
      const resolved = resolveMetric(s, def, wid, now);
      if (typeof resolved === 'string') {
        notices.push({ metric: def.name, message: resolved });
        return;
      }
      mid = resolved;
      const state = st;
      const metricId = mid;
      const changed = lost || st.id !== mid; // a lost row's id may come back for the new row
      commits.push(() => {
        if (changed) for (const ss of state.series.values()) ss.id = undefined;
        state.id = metricId;
      });
      if (changed) fresh = true; // a new metric row: every series id must be resolved again
    }
    const metricId = mid;
    const admit = this.bound.admitter(s, def, metric, metricId, notices);
    let hashMap = (viaPublicApi ? st.snapshot : checkedEntries(metric)) ?? NO_ENTRIES;
    // How this kind merges (merge.ts): a value per process (gauges), or deltas added to one merged number
    // (counters) or vector (histograms, summaries).
    const storage = KINDS[def.type].storage;
    const isGauge = storage === 'per-process';
    const isCounter = storage === 'sum';
    const isSummary = def.type === 'summary';
    const keys = bucketKeys(def);
    const n = isGauge || isCounter ? 0 : vectorLength(def);
    const state = st;
    const deltas = this.deltas;
    const exemplarRows = this.exemplarBatch(s);
    exemplarRows.clear();
    // Which series were seen matters only for the ones reset()/remove() detached (a store per series otherwise).
    const marking = st.detached.length > 0;
    /** Write one series if it changed; whether it had changed. */
    const visit = (hash: string, entry: PromEntry, found?: SeriesState): boolean => {
      let ss = found ?? st.series.get(hash);
      if (!ss) {
        ss = newSeries(hash, encodeLabels(def.labelNames, entryLabels(entry), st.defaults));
        st.series.set(hash, ss);
      }
      // The series state rides on its tracked entry: the next flush that finds the entry on the change log
      // reaches it without looking its key up in two maps of S entries (most of a changed series' JS cost).
      if (found === undefined) attach(entry, ss);
      if (marking) ss.seen = epoch;
      ss.visited = epoch;
      const known = fresh ? undefined : ss.id;
      if (isGauge) {
        const v = entryValue(entry);
        if (known !== undefined && ss.last === v) return false;
        const sid = known ?? admit(ss.labels);
        if (sid === undefined) return true; // beyond the metric's series bound: dropped
        s.setGauge.run(sid, wid, v, now);
        commits.push(written(ss, sid, v, entry));
        return true;
      }
      // An entry other than the one last written from: reset() or remove() replaced it unobserved.
      if (!viaPublicApi && ss.entry !== entry) this.carryForward(def, ss, ss.entry);
      if (isCounter) {
        const v = entryValue(entry);
        const last = ss.last as number | undefined;
        if (known !== undefined && last === v && ss.carry === 0) return false;
        // A value below the last written one means the counter was reset in a way not observed.
        const delta = (last === undefined || v < last ? v : v === last ? 0 : v - last) + ss.carry;
        if (Number.isNaN(delta)) {
          // counter.inc(NaN) (prom-client accepts it): the series stays at its stored total (issue 13 §1.2).
          if (ss.nan) return false; // reported already; it stays NaN until reset
          this.unstorable(def, ss, unstorable, notices, commits);
          return true;
        }
        const sid = (known ?? admit(ss.labels)) as number;
        // An exemplar changes only with the value (inc), so an idle series costs nothing more here.
        const exemplars = counterExemplars(entry);
        if (exemplars) writeExemplars(exemplarRows, def, sid, exemplars, ss, notices, commits);
        if (delta !== 0) {
          if (known === undefined || !this.logging)
            s.addValue.run(delta, sid); // see addToRow
          else deltas.addValue(sid, delta);
        }
        commits.push(written(ss, sid, v, entry));
      } else {
        const last = ss.last as Float64Array | undefined;
        const carry = ss.carryVector;
        // Every observation changes count and sum: when both are as last written, nothing changed, and
        // the vectors need not be built (idle histograms were most of an idle flush's cost).
        if (
          known !== undefined &&
          last &&
          !carry &&
          entryCount(entry) === last[n - 1] &&
          entrySum(entry) === last[n - 2]
        ) {
          return false;
        }
        const v = fillVector(isSummary, keys, entry, ss.spare?.length === n ? ss.spare : new Float64Array(n));
        const delta = this.scratch.deltaOf(v, last, carry);
        if (delta === undefined && known !== undefined) return false;
        const sid = (known ?? admit(ss.labels)) as number;
        const exemplars = histogramExemplars(entry, keys);
        if (exemplars) writeExemplars(exemplarRows, def, sid, exemplars, ss, notices, commits);
        if (delta === undefined) {
          commits.push(writtenVector(ss, sid, v, entry));
          return true;
        }
        if (known === undefined || !this.logging) this.addToRow(s, sid, delta, n);
        else deltas.addVector(sid, delta, n);
        commits.push(writtenVector(ss, sid, v, entry));
      }
      return true;
    };
    const log = st.log;
    // The change log's entries are taken now; should this flush not commit, every series is compared next time.
    const changed = log ? log.take() : [];
    const rescan = st.rescan;
    st.rescan = true;
    commits.push(() => {
      state.rescan = false;
    });
    // A map other than the one the log hears of: the first flush, or the map was replaced (reset()).
    const replaced = log !== undefined && log.map !== hashMap;
    if (replaced && !(hashMap !== NO_ENTRIES && log.install(hashMap))) st.log = undefined;
    const logged = st.log !== undefined && !replaced && !rescan && !fresh;
    const verifying = this.verifying || st.verifyNext;
    if (verifying) {
      commits.push(() => {
        state.verifyNext = false;
      });
    }
    if (logged && !verifying) {
      // Only what changed since the last flush (change-log.ts): an idle series costs nothing here.
      for (const entry of changed) {
        // The state last written from this very entry: still the series' entry (reset(), remove() and zero()
        // detach it from its state, and put the metric on the full path above).
        const own = ownStateOf(entry);
        if (own !== undefined) {
          if (own.visited !== epoch) visit(own.hash, entry, own);
          continue;
        }
        const hash = keyOf(entry);
        if (hashMap[hash] !== entry || st.series.get(hash)?.visited === epoch) continue;
        visit(hash, entry);
      }
    } else {
      // Every series: the first flush, after reset()/remove()/zero(), a new connection, when the rolling
      // look found a series the log cannot vouch for, and at exit; the change log hears of every entry seen
      // here from now on.
      const heard = logged ? new Set<PromEntry>(changed) : undefined;
      let missed: string | undefined;
      if (st.log) {
        const tracked = st.log.trackAll(hashMap);
        if (tracked === undefined) st.log = undefined;
        else if (tracked !== hashMap) {
          // A new map holding tracked copies takes the old one's place (never an entry replaced inside a map:
          // a cache of entries keyed on the map object stays right). Each series is still the one it was
          // last written from.
          for (const hash of Object.keys(hashMap)) {
            const ss = st.series.get(hash);
            if (ss !== undefined && ss.entry === hashMap[hash]) ss.entry = tracked[hash];
          }
          metric.hashMap = tracked;
          hashMap = tracked;
        }
      }
      // A verification looks for changes the log missed, i.e. entries replaced by code other than
      // prom-client's (plain objects, untracked): a tracked entry the log did not hear of, still the one its
      // series was written from, is unchanged and costs one look here.
      const quiet = logged && !marking ? st.log : undefined;
      // Own keys only: a for-in would walk the map's prototype, the change log's trap, on V8's slow path.
      for (const hash of Object.keys(hashMap)) {
        const entry = hashMap[hash];
        if (!entry) continue;
        const own = ownStateOf(entry);
        if (quiet && vouchedFor(quiet, entry, own) && !(heard as Set<PromEntry>).has(entry)) continue;
        if (visit(hash, entry, own) && heard && !heard.has(entry)) missed ??= hash;
      }
      if (missed !== undefined && st.log) {
        st.log = undefined;
        this.pending.push({
          metric: def.name,
          message: 'change not heard',
          text: `metric ${def.name}: a change of series {${st.series.get(missed)?.labels ?? missed}} was not heard by the store's change tracking (its entry was replaced by code other than prom-client ${promClientVersion()}'s); it is written now, and every series of this metric is compared at every flush from now on`,
        });
      }
    }
    if (st.detached.length > 0 && !isGauge) this.writeDetached(st, admit, fresh, epoch, n, commits);
    exemplarRows.finish();
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

  /**
   * Add a vector delta to its series row now, not through the delta log: for a row this flush resolved
   * (made, mostly), which the flush writes anyway (logging its first values would only make a fold update
   * it again: at a process's first flush, every row), and for every row while the log is full (nobody
   * folds it: no aggregator runs). Counters do the same with `addValue`.
   */
  private addToRow(s: Statements, sid: number, delta: Float64Array, n: number): void {
    const stored = s.readVector.get(sid) as string | null | undefined;
    if (stored !== undefined) s.setVector.run(this.scratch.added(stored, delta, n, 0), sid);
  }

  /** Series reset()/remove() took away and that did not come back: write what they held, then forget them. */
  private writeDetached(
    st: MetricState,
    admit: Admit,
    fresh: boolean,
    epoch: number,
    n: number,
    commits: Array<() => void>,
  ): void {
    const gone: SeriesState[] = [];
    for (const ss of st.detached) {
      if (ss.seen === epoch) continue; // it came back: written with its carry above
      gone.push(ss);
      const carry = ss.carry;
      const cv = ss.carryVector;
      if (carry === 0 && !cv) continue;
      const sid = ((fresh ? undefined : ss.id) ?? admit(ss.labels)) as number;
      if (cv) this.deltas.addVector(sid, cv, n);
      else this.deltas.addValue(sid, carry);
      commits.push(() => {
        ss.id = sid;
        ss.carry = 0;
        ss.carryVector = undefined;
      });
    }
    commits.push(() => {
      for (const ss of gone) {
        if (ss.carry !== 0 || ss.carryVector) continue; // not written (beyond the series bound): kept
        if (st.series.get(ss.hash) === ss && ss.entry === undefined) st.series.delete(ss.hash);
      }
      st.detached = st.detached.filter((ss) => ss.carry !== 0 || ss.carryVector !== undefined);
    });
  }

  private unstorable(
    def: MetricDef,
    ss: SeriesState,
    unstorable: { count: number },
    notices: FlushNotice[],
    commits: Array<() => void>,
  ): void {
    unstorable.count++;
    notices.push({
      metric: def.name,
      message: 'NaN value', // the log key: once per metric, whichever series
      text: `metric ${def.name}: a series' value is NaN (first: {${ss.labels}}), which cannot be stored; such a series keeps its stored total until the metric is reset (counted in health().unstorableValues)`,
    });
    commits.push(() => {
      ss.nan = true;
    });
  }
}

/** The state last written from this very entry, if the entry still carries it (change-log.ts `attach`). */
function ownStateOf(entry: PromEntry): SeriesState | undefined {
  const own = ownerOf(entry) as SeriesState | undefined;
  return own?.entry === entry ? own : undefined;
}

/**
 * Whether `log` vouches for the series of `entry`, whose own state is `own`: the entry is tracked by the
 * log (every change of it since the last flush was logged) and was written, with nothing carried over.
 * Such a series needs no comparison, neither in the rolling look nor in a full pass.
 */
function vouchedFor(log: ChangeLog, entry: PromEntry, own: SeriesState | undefined): own is SeriesState {
  return (
    own !== undefined && log.tracks(entry) && own.id !== undefined && own.carry === 0 && own.carryVector === undefined
  );
}

function newSeries(hash: string, labels: string): SeriesState {
  return {
    hash,
    labels,
    id: undefined,
    last: undefined,
    spare: undefined,
    entry: undefined,
    carry: 0,
    carryVector: undefined,
    nan: false,
    seen: 0,
    exemplars: undefined,
    visited: 0,
  };
}

/** The commit step of one series: its row id, the value now stored for it and the entry it came from. */
function written(state: SeriesState, id: number, value: number, entry: PromEntry): () => void {
  return () => {
    state.id = id;
    state.last = value;
    state.entry = entry;
    state.carry = 0;
    state.nan = false;
  };
}

/** The commit step of a vector series: the vector written becomes `last`, the one it replaces the next spare. */
function writtenVector(state: SeriesState, id: number, value: Float64Array, entry: PromEntry): () => void {
  return () => {
    const previous = state.last;
    state.id = id;
    state.last = value;
    state.entry = entry;
    state.carryVector = undefined;
    state.spare = previous instanceof Float64Array && previous !== value ? previous : undefined;
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
    // The log may hold deltas for its series: applied before the rows go, so no id in it outlives its row.
    foldDeltas(s);
    s.dropMetricExemplars.run(row.id);
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
