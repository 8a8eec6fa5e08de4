/**
 * Arithmetic on the float64 vectors histogram and summary series are stored as (buckets, sum, count; the
 * blob's layout and byte order are vector-codec.ts's), done in scratch space reused for every series of
 * every flush.
 *
 * A flush at S=1000 with every series changed applies a thousand vector deltas. Allocating two typed
 * arrays and a Buffer per series, or calling a JS function from SQL for the sum, was most of its CPU;
 * better-sqlite3 copies a bound blob when the statement runs, so a pool of one batch's worth of slots
 * serves every row.
 */
import { BATCH_ROWS } from './batch.js';
import { BlobSlots, hexVectorInto } from './vector-codec.js';

export class VectorScratch {
  private delta = new Float64Array(16);
  /** Sums waiting to be bound, by vector length: BATCH_ROWS slots of one vector each, bound without allocation. */
  private readonly pools = new Map<number, BlobSlots>();

  /**
   * What to add to the stored vector to account for `next`, given the vector `last` written before from the
   * same prom-client entry: the element-wise difference; `next` itself when nothing was written yet or the
   * count went down (the metric was reset in this process); undefined when nothing changed. `carry` (what a
   * reset()/remove() took away before it was written) is added. Equal infinities differ by 0, not NaN: a
   * `_sum` that overflowed to +Inf stays +Inf (issue 13 §1.6). Valid until the next call.
   */
  deltaOf(next: Float64Array, last: Float64Array | undefined, carry?: Float64Array): Float64Array | undefined {
    const n = next.length;
    const restart = !last || last.length !== n || (next[n - 1] as number) < (last[n - 1] as number);
    if (restart && !carry) return next;
    let i = 0;
    if (!restart && !carry) {
      while (i < n && next[i] === last[i]) i++;
      if (i === n) return undefined;
    }
    if (this.delta.length < n) this.delta = new Float64Array(n);
    const d = this.delta;
    for (let k = 0; k < i; k++) d[k] = 0;
    if (restart) for (; i < n; i++) d[i] = next[i] as number;
    else {
      const l = last as Float64Array;
      for (; i < n; i++) d[i] = next[i] === l[i] ? 0 : (next[i] as number) - (l[i] as number);
    }
    if (carry) for (let k = 0; k < n; k++) d[k] = (d[k] as number) + ((carry[k] as number) || 0);
    return d;
  }

  /**
   * The blob to store: `stored` (the `hex(data)` read from the series row: null or '' when it has none) plus
   * the first `n` values of `delta`, written to pool slot `slot` (0 to BATCH_ROWS - 1). A missing or
   * differently sized stored vector is replaced by the delta. Valid until the same slot is used again.
   */
  added(stored: string | null, delta: Float64Array, n: number, slot: number): Uint8Array {
    let pool = this.pools.get(n);
    if (!pool) {
      pool = new BlobSlots(n, BATCH_ROWS);
      this.pools.set(n, pool);
    }
    const out = pool.values;
    const base = slot * n;
    if (hexVectorInto(stored, n, out, base)) {
      for (let i = 0; i < n; i++) out[base + i] = (out[base + i] as number) + (delta[i] as number);
    } else {
      for (let i = 0; i < n; i++) out[base + i] = delta[i] as number;
    }
    return pool.blob(slot);
  }
}
