/**
 * The on-disk layout of `series.vector`, the blob a histogram or summary series is stored as (issue 15: one
 * codec, an explicit byte order; issue 17: a compact one). Every reader and writer of that column goes
 * through this module.
 *
 * A vector of `n` values is `n` entries back to back, no header:
 *
 * - a whole number k, 0 <= k < 2^52 (every bucket count and `_count`, a `_sum` of whole observations): 2k
 *   as unsigned LEB128 (7 bits a byte, least significant group first, the high bit set on every byte but
 *   the last), 1 byte up to 63, 2 up to 8191, 8 at most. Its first byte is even;
 * - any other value (a fraction, a negative, -0, an infinity, NaN, 2^52 and above): the byte 0x01, then the
 *   value as an IEEE 754 float64, little-endian (9 bytes).
 *
 * The values are, for a histogram, the non-cumulative count of each finite bucket in bound order, then
 * `_sum`, then `_count` (n = buckets + 2; the +Inf bucket is `_count`); for a summary `_sum`, then `_count`
 * (n = 2; quantiles are not stored, they cannot be merged). A blob that is not exactly `n` entries is not a
 * vector of that metric (a changed definition): readers skip it, writers replace it.
 *
 * Schema version 1 kept `n` float64s (8n bytes, in `series.data`): an 11-bucket histogram took 104 bytes a
 * series, 13-21 in the bench now (a float `_sum` is 9 of them). Opening a version-1 database re-encodes
 * them (schema.ts, `fromFloat64s`).
 */

/** The first byte of an entry that holds a float64. */
const FLOAT = 0x01;
/** Whole numbers below this are stored as LEB128 (2k stays below 2^53, exact in a double). */
const WHOLE_LIMIT = 2 ** 52;
/** The longest entry: the marker and 8 bytes. */
export const MAX_ENTRY_BYTES = 9;
const LITTLE_ENDIAN = true;

const word = new DataView(new ArrayBuffer(8));

/** Whether `x` is stored as LEB128 (a whole number in range, not -0). */
function isWhole(x: number): boolean {
  return x >= 0 && x < WHOLE_LIMIT && Math.floor(x) === x && (x !== 0 || 1 / x > 0);
}

/**
 * Write the entries of `values[from]` to `values[from + n - 1]` into `out` from byte `at` (room for
 * `n * MAX_ENTRY_BYTES` bytes is enough); returns the byte after the last one written.
 */
export function encodeInto(values: ArrayLike<number>, from: number, n: number, out: Uint8Array, at: number): number {
  let c = at;
  for (let i = from; i < from + n; i++) c = encodeNumber(values[i] as number, out, c);
  return c;
}

/** Write the entry of one value into `out` from byte `at` (room for MAX_ENTRY_BYTES); returns the byte after it. */
export function encodeNumber(x: number, out: Uint8Array, at: number): number {
  let c = at;
  if (isWhole(x)) {
    let v = x * 2;
    while (v >= 128) {
      out[c++] = (v & 127) | 128; // & keeps the low 7 bits of any whole number below 2^53
      v = (v - (v & 127)) / 128;
    }
    out[c++] = v;
  } else {
    out[c++] = FLOAT;
    word.setFloat64(0, x, LITTLE_ENDIAN);
    for (let b = 0; b < 8; b++) out[c++] = word.getUint8(b);
  }
  return c;
}

/**
 * Entries read one at a time from bytes (the delta log's rows, delta-log.ts). `number()` throws a RangeError
 * saying where when the entry at `at` is cut short or malformed.
 */
export class EntryReader {
  at = 0;

  constructor(private readonly bytes: Uint8Array) {}

  get done(): boolean {
    return this.at >= this.bytes.length;
  }

  number(): number {
    const bytes = this.bytes;
    const end = bytes.length;
    const start = this.at;
    let c = start;
    const first = c < end ? (bytes[c++] as number) : -1;
    if (first >= 0 && (first & 129) === 0) {
      this.at = c; // one byte: a whole number below 64 (most deltas, slots and lengths)
      return first / 2;
    }
    if (first === FLOAT && c + 8 <= end) {
      for (let b = 0; b < 8; b++) word.setUint8(b, bytes[c++] as number);
      this.at = c;
      return word.getFloat64(0, LITTLE_ENDIAN);
    }
    if (first >= 0 && (first & 1) === 0) {
      let v = first & 127;
      let scale = 128;
      let byte = first;
      for (let more = 1; (byte & 128) !== 0; more++) {
        if (more === 8 || c >= end) break;
        byte = bytes[c++] as number;
        v += (byte & 127) * scale;
        scale *= 128;
      }
      if ((byte & 128) === 0) {
        this.at = c;
        return v / 2;
      }
    }
    throw new RangeError(`Invalid entry at byte ${start} of ${end}: cut short or malformed`);
  }
}

/**
 * The blob of `values` (a fresh buffer).
 *
 * @example
 * encodeVector([1, 0.5]) // bytes 02  01 00 00 00 00 00 00 e0 3f
 */
export function encodeVector(values: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(values.length * MAX_ENTRY_BYTES);
  return out.slice(0, encodeInto(values, 0, values.length, out, 0));
}

/** The values of a blob (a fresh array); throws a RangeError saying where when it is not whole entries. */
export function decodeVector(blob: Uint8Array): Float64Array {
  const count = decodeHex(Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength).toString('hex'), -1);
  if (count < 0) {
    throw new RangeError(
      `Invalid vector blob of ${blob.byteLength} bytes: entry ${-count - 1} is cut short or malformed`,
    );
  }
  return scratch.slice(0, count);
}

/**
 * The blob a schema-1 database kept (`n` little-endian float64s) re-encoded; null for NULL, and for a blob
 * that is not whole float64s (then not a vector of its metric, which readers skip: so is null).
 */
export function fromFloat64s(blob: Uint8Array | null): Uint8Array | null {
  if (blob === null || blob.byteLength % 8 !== 0) return null;
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const values = new Float64Array(blob.byteLength / 8);
  for (let i = 0; i < values.length; i++) values[i] = view.getFloat64(i * 8, LITTLE_ENDIAN);
  return encodeVector(values);
}

/**
 * Reading a blob costs better-sqlite3 a Buffer of its own, about 2 µs a row, more than SQLite's work for it;
 * the same bytes read as `hex(vector)` come back as a string (about 0.3 µs) and decode here in less again.
 * The statements that read vectors row by row (the flush's read-add-write, a scrape's series rows) read them so.
 */
const HEX_DIGIT = new Uint8Array(128);
for (let d = 0; d < 10; d++) HEX_DIGIT[48 + d] = d;
for (let d = 0; d < 6; d++) {
  HEX_DIGIT[65 + d] = 10 + d;
  HEX_DIGIT[97 + d] = 10 + d;
}

/** The byte whose two hex digits start at `at`. */
function byteAt(hex: string, at: number): number {
  return ((HEX_DIGIT[hex.charCodeAt(at) & 127] as number) << 4) | (HEX_DIGIT[hex.charCodeAt(at + 1) & 127] as number);
}

/** Where decodeHex puts the values (grown as needed). */
let scratch = new Float64Array(64);

/**
 * Decode the entries of `hex` into `scratch`, at most `max` of them (no bound when negative); returns how
 * many, or -(k + 1) when entry k is cut short, malformed, or one more than `max`.
 */
function decodeHex(hex: string, max: number): number {
  const end = hex.length;
  if (end % 2 !== 0) return -1;
  let c = 0;
  let k = 0;
  for (; c < end; k++) {
    if (k === max) return -(k + 1);
    if (k === scratch.length) {
      const grown = new Float64Array(k * 2);
      grown.set(scratch);
      scratch = grown;
    }
    const first = byteAt(hex, c);
    c += 2;
    if (first === FLOAT) {
      if (c + 16 > end) return -(k + 1);
      for (let b = 0; b < 8; b++, c += 2) word.setUint8(b, byteAt(hex, c));
      scratch[k] = word.getFloat64(0, LITTLE_ENDIAN);
      continue;
    }
    if ((first & 1) !== 0) return -(k + 1);
    let v = first & 127;
    let scale = 128;
    let byte = first;
    for (let more = 1; (byte & 128) !== 0; more++) {
      if (more === 8 || c >= end) return -(k + 1);
      byte = byteAt(hex, c);
      c += 2;
      v += (byte & 127) * scale;
      scale *= 128;
    }
    scratch[k] = v / 2;
  }
  return k;
}

/**
 * Decode the `hex(vector)` of a vector of `n` values into `out` from index `at`. Returns false, writing
 * nothing, when `hex` is not the text of exactly `n` entries (NULL reads as '').
 *
 * @example
 * hexVectorInto('02', 1, out) // true, out[0] === 1
 */
export function hexVectorInto(hex: string | null | undefined, n: number, out: Float64Array, at = 0): boolean {
  if (typeof hex !== 'string' || decodeHex(hex, n) !== n) return false;
  for (let i = 0; i < n; i++) out[at + i] = scratch[i] as number;
  return true;
}

/**
 * `count` slots of `n` values each, filled as a Float64Array (`values`, slot k at k * n) and bound as blobs
 * (`blob(k)`, encoded into bytes of the slot's own). Valid until the slot is filled again.
 */
export class BlobSlots {
  readonly values: Float64Array;
  private readonly bytes: Uint8Array;

  constructor(
    readonly n: number,
    readonly count: number,
  ) {
    this.values = new Float64Array(n * count);
    this.bytes = new Uint8Array(n * count * MAX_ENTRY_BYTES);
  }

  blob(slot: number): Uint8Array {
    const start = slot * this.n * MAX_ENTRY_BYTES;
    return this.bytes.subarray(start, encodeInto(this.values, slot * this.n, this.n, this.bytes, start));
  }
}
