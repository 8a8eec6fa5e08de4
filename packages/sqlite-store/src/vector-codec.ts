/**
 * The on-disk layout of `series.data`, the blob a histogram or summary series is stored as (issue 15: one
 * codec, an explicit byte order). Every reader and writer of that column goes through this module.
 *
 * A blob is `n` IEEE 754 float64 values, 8 bytes each, **little-endian**, no header and no padding:
 *
 * - histogram: the non-cumulative count of each finite bucket in bound order, then `_sum`, then `_count`
 *   (n = buckets + 2; the +Inf bucket is `_count`);
 * - summary: `_sum`, then `_count` (n = 2; quantiles are not stored, they cannot be merged).
 *
 * A blob of any other length is not a vector of that metric (a changed definition): readers skip it,
 * writers replace it.
 *
 * Compatibility: 0.1.0 wrote the blob from a Float64Array, i.e. in the host's byte order, and read it as
 * little-endian in one place and in host order in another. On a little-endian host (x86-64, arm64: every
 * platform Node ships for) that is this layout byte for byte, so its databases read the same
 * (vector-codec.test.ts proves it with bytes made the 0.1.0 way). Only a store written on a big-endian host
 * by 0.1.0 would read differently; schema version 1 is kept, as no such database can have been readable.
 */

/** Bytes per stored value. */
export const VALUE_BYTES = 8;

const LITTLE_ENDIAN = true;
/** Whether a Float64Array's memory already is this layout (it is on every platform Node ships for). */
const HOST_LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/** Size in bytes of the blob of an `n`-value vector. */
export function blobBytes(n: number): number {
  return n * VALUE_BYTES;
}

/** Whether `blob` holds a vector of exactly `n` values. */
export function isVectorBlob(blob: Uint8Array | null | undefined, n: number): blob is Uint8Array {
  return blob !== null && blob !== undefined && blob.byteLength === n * VALUE_BYTES;
}

/** A view to read a blob's values with `valueAt` (one per blob, not per value). */
export function blobView(blob: Uint8Array): DataView {
  return new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
}

/** Value `i` of a blob seen through `blobView`. */
export function valueAt(view: DataView, i: number): number {
  return view.getFloat64(i * VALUE_BYTES, LITTLE_ENDIAN);
}

/** Write `value` as value `i` of the blob (or blobs: a pool of slots) seen through `view`. */
export function setValueAt(view: DataView, i: number, value: number): void {
  view.setFloat64(i * VALUE_BYTES, value, LITTLE_ENDIAN);
}

/**
 * The blob of `values` (a fresh buffer).
 *
 * @example
 * encodeVector([1, 0.5]) // bytes 00 00 00 00 00 00 f0 3f  00 00 00 00 00 00 e0 3f
 */
export function encodeVector(values: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(blobBytes(values.length));
  const view = blobView(out);
  for (let i = 0; i < values.length; i++) setValueAt(view, i, values[i] as number);
  return out;
}

/** The values of a blob (a fresh array); throws a RangeError naming the length when it is not whole values. */
export function decodeVector(blob: Uint8Array): Float64Array {
  if (blob.byteLength % VALUE_BYTES !== 0) {
    throw new RangeError(`Invalid vector blob of ${blob.byteLength} bytes: expected a multiple of ${VALUE_BYTES}`);
  }
  const n = blob.byteLength / VALUE_BYTES;
  const out = new Float64Array(n);
  const view = blobView(blob);
  for (let i = 0; i < n; i++) out[i] = valueAt(view, i);
  return out;
}

/**
 * Reading a blob costs better-sqlite3 a Buffer of its own, about 2 µs a row, more than SQLite's work for it;
 * the same bytes read as `hex(data)` come back as a string (about 0.3 µs) and decode here in less again. The
 * statements that read vectors row by row (the flush's read-add-write, a scrape's series rows) read them so.
 */
const HEX_DIGIT = new Uint8Array(128);
for (let d = 0; d < 10; d++) HEX_DIGIT[48 + d] = d;
for (let d = 0; d < 6; d++) {
  HEX_DIGIT[65 + d] = 10 + d;
  HEX_DIGIT[97 + d] = 10 + d;
}
const word = new DataView(new ArrayBuffer(VALUE_BYTES));

/**
 * Decode the `hex(data)` of a vector of `n` values into `out` from index `at`. Returns false, writing
 * nothing, when `hex` is not the text of exactly `n` values (NULL data reads as '').
 *
 * @example
 * hexVectorInto('000000000000F03F', 1, out) // true, out[0] === 1
 */
export function hexVectorInto(hex: string | null | undefined, n: number, out: Float64Array, at = 0): boolean {
  if (typeof hex !== 'string' || hex.length !== n * VALUE_BYTES * 2) return false;
  for (let i = 0, c = 0; i < n; i++) {
    for (let b = 0; b < VALUE_BYTES; b++, c += 2) {
      word.setUint8(b, ((HEX_DIGIT[hex.charCodeAt(c)] as number) << 4) | (HEX_DIGIT[hex.charCodeAt(c + 1)] as number));
    }
    out[at + i] = word.getFloat64(0, LITTLE_ENDIAN);
  }
  return true;
}

/**
 * `count` slots of `n` values each, filled as a Float64Array (`values`, slot k at k * n) and bound as blobs
 * (`blob(k)`): on a little-endian host a blob is a view of the slot's own memory, made once; elsewhere the
 * slot is encoded into a byte buffer of its own. Valid until the slot is filled again.
 */
export class BlobSlots {
  readonly values: Float64Array;
  private readonly bytes: ArrayBufferLike;
  private readonly blobs: Uint8Array[];

  constructor(
    readonly n: number,
    readonly count: number,
  ) {
    this.values = new Float64Array(n * count);
    this.bytes = HOST_LITTLE_ENDIAN ? this.values.buffer : new ArrayBuffer(blobBytes(n * count));
    this.blobs = Array.from({ length: count }, (_, k) => new Uint8Array(this.bytes, blobBytes(k * n), blobBytes(n)));
  }

  blob(slot: number): Uint8Array {
    const out = this.blobs[slot] as Uint8Array;
    if (!HOST_LITTLE_ENDIAN) {
      const view = blobView(out);
      for (let i = 0; i < this.n; i++) setValueAt(view, i, this.values[slot * this.n + i] as number);
    }
    return out;
  }
}
