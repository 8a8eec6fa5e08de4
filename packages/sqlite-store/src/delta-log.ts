/**
 * The delta log (schema version 3, issue 17): what a flush adds to counters, histograms and summaries is
 * appended as rows of the `deltas` table (LOG_ROW_ENTRIES entries at most each), and folded into the
 * merged `series` rows later by the process that scrapes them (store.ts); a writer folds it only before it
 * deletes series rows (a replaced metric).
 *
 * Why: SQLite spends about 0.8 µs on each row it updates, however the updates are batched, and a flush that
 * added its deltas row by row paid that (and a read of the stored vector) for every changed series, in the
 * application's own event loop. A row of the log costs one insert, whatever the number of series in it; the
 * fold sums every log row before it touches `series`, so a series that W processes changed is updated once
 * per fold instead of once per process. A scrape adds what the log holds to the rows it renders (Overlay)
 * and needs no write lock; the folding is done by the process that scrapes, after answering and at every
 * flush interval (store.ts).
 *
 * A row's `body` is a sequence of entries, each a run of vector-codec.ts numbers:
 *
 * - a counter (or any `sum` series): `2 * id`, then the delta;
 * - a vector (histogram, summary): `2 * id + 1`, then `n` (the vector's length), then `k`, then k pairs of
 *   slot and delta, for the slots whose delta is not zero (an observation changes one bucket, `_sum` and
 *   `_count`).
 *
 * A flush writes to the log only while it is below LOG_BOUND, and a row it resolves (makes, mostly) gets
 * its first values straight away: it writes that row anyway.
 *
 * Ids stay valid between a flush and its fold: series rows are deleted only with their metric, and the
 * statements that delete them (a metric replaced, the store cleared) fold the log first or clear it.
 */
import type Database from 'better-sqlite3';
import { RowBatch } from './batch.js';
import { stampingOf } from './stamps.js';
import type { Statements } from './statements.js';
import { EntryReader, encodeNumber, hexVectorInto, MAX_ENTRY_BYTES } from './vector-codec.js';
import { VectorScratch } from './vectors.js';

/**
 * A flush writes to the log only while it holds fewer entries than this (about 2-3 MB); beyond, it adds to
 * the series rows itself, as it did before the log. Whoever scrapes the store folds the log (at every flush
 * interval, and after each scrape), so with an aggregator running it stays far below; without one, it fills
 * up to here once and stays so (a scrape shows it, whenever one comes): the file grows by this much at most.
 */
export const LOG_BOUND = 200_000;
/**
 * A scraping store folds the log's oldest rows in transactions that add to this many series at most (at
 * least one row), so that neither a worker's flush (it gives up on the lock after 50 ms) nor a scrape that
 * comes in meanwhile (the event loop is the same) waits long. Series, not entries: a fold's cost is mostly
 * the series rows it updates (about 2 µs each; reading an entry costs a tenth of that), and a series that
 * eight workers changed is updated once per transaction. At S=10000 with every series changed, a cap of
 * 25000 entries instead made eight updates of each series, and doubled the aggregator's CPU per scrape.
 */
export const FOLD_SERIES = 25_000;
/**
 * A flush writes its entries as rows of at most this many (a fold cannot split a row): at S=100000 a
 * flush of every series was one row of 200000 entries, whose fold held the event loop and the write lock
 * for 0.4-0.7 s, and a scrape that came in meanwhile waited for it.
 */
export const LOG_ROW_ENTRIES = 12_500;

/** One flush's entries, encoded into one growing buffer (kept across flushes: no allocation per flush). */
export class DeltaBuffer {
  private bytes = new Uint8Array(64 * 1024);
  private at = 0;
  /** Entries since clear(). */
  count = 0;
  /** Where each row but the last ends (every LOG_ROW_ENTRIES entries). */
  private ends: number[] = [];

  clear(): void {
    this.at = 0;
    this.count = 0;
    this.ends.length = 0;
  }

  /** Add `delta` to series `id`'s value. */
  addValue(id: number, delta: number): void {
    this.room(2 * MAX_ENTRY_BYTES);
    this.at = encodeNumber(delta, this.bytes, encodeNumber(2 * id, this.bytes, this.at));
    this.counted();
  }

  /** Add the first `n` values of `delta` to series `id`'s vector (element by element). */
  addVector(id: number, delta: ArrayLike<number>, n: number): void {
    this.room((3 + 2 * n) * MAX_ENTRY_BYTES);
    const out = this.bytes;
    let c = encodeNumber(n, out, encodeNumber(2 * id + 1, out, this.at));
    let k = 0;
    for (let i = 0; i < n; i++) if (delta[i] !== 0) k++;
    c = encodeNumber(k, out, c);
    for (let i = 0; i < n; i++) {
      const x = delta[i] as number;
      if (x !== 0) c = encodeNumber(x, out, encodeNumber(i, out, c));
    }
    this.at = c;
    this.counted();
  }

  /** One more entry, ending at `at`: a row ends every LOG_ROW_ENTRIES entries. */
  private counted(): void {
    if (++this.count % LOG_ROW_ENTRIES === 0) this.ends.push(this.at);
  }

  /** The entries since clear() as log rows (entries, body) of at most LOG_ROW_ENTRIES, valid until the next add. */
  *rows(): Generator<[number, Uint8Array]> {
    let from = 0;
    for (const end of this.ends) {
      yield [LOG_ROW_ENTRIES, this.bytes.subarray(from, end)];
      from = end;
    }
    const rest = this.count % LOG_ROW_ENTRIES;
    if (rest > 0) yield [rest, this.bytes.subarray(from, this.at)];
  }

  private room(extra: number): void {
    if (this.at + extra <= this.bytes.length) return;
    const grown = new Uint8Array(Math.max(this.bytes.length * 2, this.at + extra));
    grown.set(this.bytes.subarray(0, this.at));
    this.bytes = grown;
  }
}

/**
 * The sums of the log rows read by one fold or scrape, by series id: arrays indexed by id (ids are dense,
 * and a Map's lookups were most of a fold's cost), vectors in one slab (no array per series), with the ids
 * in the order first seen.
 */
class Sums {
  values = new Float64Array(1024);
  hasValue = new Uint8Array(1024);
  /** Where series id's vector starts in `slab`, plus one (0: none), and its length. */
  private at = new Int32Array(1024);
  private length = new Int32Array(1024);
  private slab = new Float64Array(4096);
  private used = 0;
  readonly valueIds: number[] = [];
  readonly vectorIds: number[] = [];

  addValue(id: number, d: number): void {
    if (id >= this.values.length) this.grow(id);
    if (this.hasValue[id] === 0) {
      this.hasValue[id] = 1;
      this.values[id] = d;
      this.valueIds.push(id);
    } else this.values[id] = (this.values[id] as number) + d;
  }

  /** Add `d` to slot `slot` of series `id`'s vector of `n` (a vector of another length is started over). */
  addSlot(id: number, n: number, slot: number, d: number): void {
    if (id >= this.values.length) this.grow(id);
    let at = (this.at[id] as number) - 1;
    if (at < 0 || this.length[id] !== n) {
      if (at < 0) this.vectorIds.push(id);
      if (this.used + n > this.slab.length) {
        const slab = new Float64Array(Math.max(this.slab.length * 2, this.used + n));
        slab.set(this.slab.subarray(0, this.used));
        this.slab = slab;
      }
      at = this.used;
      this.used += n;
      this.at[id] = at + 1;
      this.length[id] = n;
    }
    this.slab[at + slot] = (this.slab[at + slot] as number) + d;
  }

  /** Series `id`'s vector (a view, valid until the next add), or undefined. */
  vector(id: number): Float64Array | undefined {
    const at = id < this.at.length ? (this.at[id] as number) - 1 : -1;
    return at < 0 ? undefined : this.slab.subarray(at, at + (this.length[id] as number));
  }

  private grow(id: number): void {
    const size = Math.max(id + 1, this.values.length * 2);
    const values = new Float64Array(size);
    values.set(this.values);
    const has = new Uint8Array(size);
    has.set(this.hasValue);
    const at = new Int32Array(size);
    at.set(this.at);
    const length = new Int32Array(size);
    length.set(this.length);
    this.values = values;
    this.hasValue = has;
    this.at = at;
    this.length = length;
  }
}

/** One log row decoded: per entry (id, n, slot, delta), n = 0 for a value; reused by every row. */
let decoded = new Float64Array(4096);

/** Room in `decoded` for `k` more numbers after the first `used`. */
function room(used: number, k: number): Float64Array {
  if (used + k > decoded.length) {
    const grown = new Float64Array(Math.max(decoded.length * 2, used + k));
    grown.set(decoded.subarray(0, used));
    decoded = grown;
  }
  return decoded;
}

/**
 * Add the entries of one log row to `sums`. Throws a RangeError on a malformed row, having added nothing
 * of it: the row is decoded whole first, then added.
 */
function readBody(body: Uint8Array, sums: Sums): void {
  const r = new EntryReader(body);
  let c = 0;
  while (!r.done) {
    const head = r.number();
    const odd = head % 2;
    const id = (head - odd) / 2;
    if (odd === 0) {
      const d = room(c, 4);
      d[c] = id;
      d[c + 1] = 0;
      d[c + 2] = 0;
      d[c + 3] = r.number();
      c += 4;
      continue;
    }
    const n = r.number();
    const k = r.number();
    if (n < 1 || n > MAX_VECTOR || k > n) throw new RangeError(`Invalid vector entry: n=${n}, k=${k}`);
    const d = room(c, 4 * k);
    for (let j = 0; j < k; j++) {
      const slot = r.number();
      if (slot >= n) throw new RangeError(`Invalid slot in a vector of ${n}`);
      d[c] = id;
      d[c + 1] = n;
      d[c + 2] = slot;
      d[c + 3] = r.number();
      c += 4;
    }
  }
  const d = decoded;
  for (let i = 0; i < c; i += 4) {
    const n = d[i + 1] as number;
    if (n === 0) sums.addValue(d[i] as number, d[i + 3] as number);
    else sums.addSlot(d[i] as number, n, d[i + 2] as number, d[i + 3] as number);
  }
}

/** The longest vector a log entry may hold (a histogram of 4094 buckets): anything longer is damage. */
const MAX_VECTOR = 4096;

const scratchOf = new WeakMap<Statements, { scratch: VectorScratch; values: RowBatch; vectors: RowBatch }>();

const ignore = () => {};

/**
 * What the log holds (up to row `upTo`; its oldest rows until they add to `maxSeries` series, at least one
 * row), summed, and the last row's id.
 */
function readLog(
  s: Statements,
  upTo = Number.MAX_SAFE_INTEGER,
  maxSeries = Number.POSITIVE_INFINITY,
): { sums: Sums; last: number; unreadable: number } | undefined {
  let sums: Sums | undefined;
  let last = 0;
  let unreadable = 0;
  for (const [id, body] of s.readDeltas.iterate(upTo) as IterableIterator<[number, Uint8Array]>) {
    sums ??= new Sums();
    try {
      readBody(body, sums);
    } catch {
      unreadable++;
    }
    last = id;
    if (sums.valueIds.length + sums.vectorIds.length >= maxSeries) break;
  }
  return sums && { sums, last, unreadable };
}

/** A stored vector, decoded for Overlay.vector. */
let scratch = new Float64Array(16);

/**
 * The log as a scrape reads it, inside its read transaction, without folding it (no write lock, no wait): the
 * sums by series id, to add to the rows it renders. `last` is the id of the last row read; folding the rows up
 * to it (`foldDeltas(s, upTo)`) writes exactly what the scrape showed.
 */
export class Overlay {
  private constructor(
    private readonly sums: Sums,
    readonly last: number,
  ) {}

  static read(s: Statements): Overlay | undefined {
    const log = readLog(s);
    return log && new Overlay(log.sums, log.last);
  }

  /** The ids of the series it changes. */
  ids(): number[] {
    return this.sums.valueIds.concat(this.sums.vectorIds);
  }

  /** What it adds to the value of series `id` (0 for none). */
  value(id: number): number {
    return this.sums.hasValue[id] === 1 ? (this.sums.values[id] as number) : 0;
  }

  /**
   * The vector of series `id` with what it adds to it: `stored` (the row's hex(vector)) plus its sums, as
   * a fold would write it; undefined when it adds nothing to that series.
   */
  vector(id: number, stored: string): Float64Array | undefined {
    const d = this.sums.vector(id);
    if (d === undefined) return undefined;
    const n = d.length;
    if (scratch.length < n) scratch = new Float64Array(n);
    // Added in place: a scrape asks once per series.
    if (hexVectorInto(stored, n, scratch)) for (let i = 0; i < n; i++) d[i] = (d[i] as number) + (scratch[i] as number);
    return d;
  }
}

/**
 * Fold the rows of the log up to id `upTo` (all by default; the oldest ones until they add to `maxSeries`
 * series, at least one row) into `series` and delete them. Call inside an IMMEDIATE transaction, with the
 * statements a flush stamps through (stamps.ts), so that a scrape re-renders the blocks it changed. A delta
 * for a series row that is gone is dropped (its metric was deleted, and its values with it). A row that
 * cannot be decoded (a damaged file) is dropped and counted in meta `unreadable_deltas`. Returns the
 * number of series it added to and the id of the last row it folded (0: none).
 */
export function foldDeltas(
  s: Statements,
  upTo = Number.MAX_SAFE_INTEGER,
  maxSeries = Number.POSITIVE_INFINITY,
): { series: number; last: number } {
  const log = readLog(s, upTo, maxSeries);
  if (log === undefined) return { series: 0, last: 0 };
  let parts = scratchOf.get(s);
  if (!parts) {
    parts = {
      scratch: new VectorScratch(),
      values: new RowBatch(s.addValues, s.addValue, s.seriesExists, true),
      vectors: new RowBatch(s.setVectors, s.setVector, s.seriesExists),
    };
    scratchOf.set(s, parts);
  }
  const { sums, last, unreadable } = log;
  const { scratch, values, vectors } = parts;
  values.clear();
  vectors.clear();
  for (const id of sums.valueIds) values.add(id, sums.values[id] as number, ignore, ignore);
  values.finish();
  for (const id of sums.vectorIds) {
    const d = sums.vector(id) as Float64Array;
    const stored = s.readVector.get(id) as string | null | undefined;
    if (stored === undefined) continue; // the row is gone
    vectors.add(id, scratch.added(stored, d, d.length, vectors.slot), ignore, ignore);
  }
  vectors.finish();
  s.deleteDeltas.run(last);
  if (unreadable > 0) s.addMeta.run({ key: 'unreadable_deltas', n: unreadable });
  return { series: sums.valueIds.length + sums.vectorIds.length, last };
}

/** Whether a flush may write to the log (it holds fewer than LOG_BOUND entries). */
export function logOpen(s: Statements): boolean {
  return (s.logEntries.get() as number) < LOG_BOUND;
}

/**
 * Fold the delta log's oldest rows (until they add to `maxSeries` series) in a transaction of its own,
 * stamping the blocks it changes; returns the last row it folded and each changed block's stamp from before
 * (BlockRenderer.adoptFold; undefined when it stamped everything).
 */
export function foldLog(
  db: Database.Database,
  s: Statements,
  maxSeries: number,
): { last: number; before: Map<number, number> | undefined } {
  const stamping = stampingOf(s);
  stamping.clear();
  let last = 0;
  let before: Map<number, number> | undefined;
  db.transaction(() => {
    last = foldDeltas(stamping.statements, undefined, maxSeries).last;
    before = stamping.blocksBefore();
    stamping.write();
  }).immediate();
  return { last, before };
}
