/**
 * The delta log (schema version 3, issue 17): what a flush adds to counters, histograms and summaries is
 * appended as one row of the `deltas` table, and folded into the merged `series` rows later, by whoever
 * reads them (a scrape) or, when nobody has for a while, by a writer.
 *
 * Why: SQLite spends about 0.8 µs on each row it updates, however the updates are batched, and a flush that
 * added its deltas row by row paid that (and a read of the stored vector) for every changed series, in the
 * application's own event loop. A row of the log costs one insert, whatever the number of series in it; the
 * fold sums every log row before it touches `series`, so a series that W processes changed over many
 * flushes is updated once per fold instead of once per process and flush.
 *
 * A row's `body` is a sequence of entries, each a run of vector-codec.ts numbers:
 *
 * - a counter (or any `sum` series): `2 * id`, then the delta;
 * - a vector (histogram, summary): `2 * id + 1`, then `n` (the vector's length), then `k`, then k pairs of
 *   slot and delta, for the slots whose delta is not zero (an observation changes one bucket, `_sum` and
 *   `_count`).
 *
 * Ids stay valid between a flush and its fold: series rows are deleted only with their metric, and the
 * statements that delete them (a metric replaced, the store cleared) fold the log first or clear it.
 */
import { RowBatch } from './batch.js';
import type { Statements } from './statements.js';
import { EntryReader, encodeNumber, MAX_ENTRY_BYTES } from './vector-codec.js';
import { VectorScratch } from './vectors.js';

/**
 * A writer folds the log itself when its oldest row is this old: nobody scraped (no aggregator runs), and
 * the log is only housekeeping then, its size bounded by FOLD_ENTRIES (a reader folds what it finds).
 */
export const FOLD_AFTER_MS = 300_000;
/** ...or when it holds this many entries (a bound on its size, about 10-20 MB, whatever the time). */
export const FOLD_ENTRIES = 1_000_000;

/** One flush's entries, encoded into one growing buffer (kept across flushes: no allocation per flush). */
export class DeltaBuffer {
  private bytes = new Uint8Array(64 * 1024);
  private at = 0;
  /** Entries since clear(). */
  count = 0;

  clear(): void {
    this.at = 0;
    this.count = 0;
  }

  /** Add `delta` to series `id`'s value. */
  addValue(id: number, delta: number): void {
    this.room(2 * MAX_ENTRY_BYTES);
    this.at = encodeNumber(delta, this.bytes, encodeNumber(2 * id, this.bytes, this.at));
    this.count++;
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
    this.count++;
  }

  /** The entries since clear(), valid until the next add. */
  body(): Uint8Array {
    return this.bytes.subarray(0, this.at);
  }

  private room(extra: number): void {
    if (this.at + extra <= this.bytes.length) return;
    const grown = new Uint8Array(Math.max(this.bytes.length * 2, this.at + extra));
    grown.set(this.bytes.subarray(0, this.at));
    this.bytes = grown;
  }
}

/**
 * The sums of every log row read by one fold, by series id (arrays indexed by id: ids are dense, and a
 * Map's lookups were most of a fold's cost), with the ids in the order first seen.
 */
class Sums {
  values: Float64Array = new Float64Array(1024);
  hasValue: Uint8Array = new Uint8Array(1024);
  vectors: Array<Float64Array | undefined> = [];
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

  vector(id: number, n: number): Float64Array {
    let acc = this.vectors[id];
    if (acc === undefined || acc.length !== n) {
      if (acc === undefined) this.vectorIds.push(id);
      acc = new Float64Array(n);
      this.vectors[id] = acc;
    }
    return acc;
  }

  private grow(id: number): void {
    const size = Math.max(id + 1, this.values.length * 2);
    const values = new Float64Array(size);
    values.set(this.values);
    const has = new Uint8Array(size);
    has.set(this.hasValue);
    this.values = values;
    this.hasValue = has;
  }
}

/**
 * Add the entries of one log row to `sums`. Throws a RangeError on a malformed row, having added nothing
 * of it: a first pass checks the entries, a second adds them (no allocation but a series' first vector).
 */
function readBody(body: Uint8Array, sums: Sums): void {
  const r = new EntryReader(body);
  while (!r.done) {
    const head = r.number();
    if (head % 2 === 0) {
      r.number();
      continue;
    }
    const n = r.number();
    const k = r.number();
    if (n < 1 || n > MAX_VECTOR || k > n) throw new RangeError(`Invalid vector entry: n=${n}, k=${k}`);
    for (let j = 0; j < k; j++) {
      if (r.number() >= n) throw new RangeError(`Invalid slot in a vector of ${n}`);
      r.number();
    }
  }
  r.at = 0;
  while (!r.done) {
    const head = r.number();
    const odd = head % 2;
    const id = (head - odd) / 2;
    if (odd === 0) {
      sums.addValue(id, r.number());
      continue;
    }
    const n = r.number();
    const k = r.number();
    const acc = sums.vector(id, n);
    for (let j = 0; j < k; j++) {
      const slot = r.number();
      acc[slot] = (acc[slot] as number) + r.number();
    }
  }
}

/** The longest vector a log entry may hold (a histogram of 4094 buckets): anything longer is damage. */
const MAX_VECTOR = 4096;

const scratchOf = new WeakMap<Statements, { scratch: VectorScratch; values: RowBatch; vectors: RowBatch }>();

const ignore = () => {};

/**
 * Fold every row of the log into `series` and delete them. Call inside an IMMEDIATE transaction, with the
 * statements a flush stamps through (stamps.ts), so that a scrape re-renders the blocks it changed. A delta
 * for a series row that is gone is dropped (its metric was deleted, and its values with it). A row that
 * cannot be decoded (a damaged file) is dropped and counted in meta `unreadable_deltas`. Returns the
 * number of series it added to.
 */
export function foldDeltas(s: Statements): number {
  const rows = s.readDeltas.all() as [number, Uint8Array][];
  if (rows.length === 0) return 0;
  let parts = scratchOf.get(s);
  if (!parts) {
    parts = {
      scratch: new VectorScratch(),
      values: new RowBatch(s.addValues, s.addValue, s.seriesExists, true),
      vectors: new RowBatch(s.setVectors, s.setVector, s.seriesExists),
    };
    scratchOf.set(s, parts);
  }
  const sums = new Sums();
  let unreadable = 0;
  for (const [, body] of rows) {
    try {
      readBody(body, sums);
    } catch {
      unreadable++;
    }
  }
  const { scratch, values, vectors } = parts;
  values.clear();
  vectors.clear();
  for (const id of sums.valueIds) values.add(id, sums.values[id] as number, ignore, ignore);
  values.finish();
  for (const id of sums.vectorIds) {
    const d = sums.vectors[id] as Float64Array;
    const stored = s.readVector.get(id) as string | null | undefined;
    if (stored === undefined) continue; // the row is gone
    vectors.add(id, scratch.added(stored, d, d.length, vectors.slot), ignore, ignore);
  }
  vectors.finish();
  s.deleteDeltas.run((rows[rows.length - 1] as [number, Uint8Array])[0]);
  if (unreadable > 0) s.addMeta.run({ key: 'unreadable_deltas', n: unreadable });
  return sums.valueIds.length + sums.vectorIds.length;
}

/** Whether a writer should fold the log now (its oldest row `oldest`, `entries` in all; see FOLD_AFTER_MS). */
export function foldDue(s: Statements, now: number): boolean {
  const [oldest, entries] = s.deltaLog.get() as [number | null, number];
  return oldest !== null && (now - oldest >= FOLD_AFTER_MS || entries >= FOLD_ENTRIES);
}
