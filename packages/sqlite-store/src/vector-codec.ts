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
