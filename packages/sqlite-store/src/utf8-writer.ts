import { formatNumber } from './labels.js';

/**
 * An exposition written as UTF-8 straight into one growing buffer (issue 17). Rendering a block used to
 * push its lines' parts into an array, join them and encode the string: at S=100000 with every series
 * changed, the join and the encoding took about half of the scrape's render. Here, ASCII text is stored
 * a byte at a time, the part of a histogram's line before `le=` is copied from the line before it (it is
 * the same for every bucket of a series), and integers are written as digits without making a string.
 *
 * One writer is reused for every block (`take()` copies a block's bytes out and starts again), so its
 * buffer grows to the largest block once.
 *
 * @example
 * const w = new Utf8Writer();
 * w.text('requests_total{code="200"} ');
 * w.number(3);
 * w.byte(NEWLINE);
 * w.take().toString(); // 'requests_total{code="200"} 3\n'
 */
export class Utf8Writer {
  private buf = Buffer.allocUnsafeSlow(64 * 1024);
  private pos = 0;

  /** Bytes written since the last `take()`. */
  get length(): number {
    return this.pos;
  }

  /** `s` as UTF-8 (a string Node would encode the same way: lone surrogates as U+FFFD). */
  text(s: string): void {
    const n = s.length;
    this.reserve(n * 3);
    const buf = this.buf;
    let pos = this.pos;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) {
        this.pos = pos + buf.write(s.slice(i), pos, 'utf8');
        return;
      }
      buf[pos++] = c;
    }
    this.pos = pos;
  }

  /** One byte (an ASCII character's code). */
  byte(c: number): void {
    this.reserve(1);
    this.buf[this.pos++] = c;
  }

  /** Bytes encoded before (a bucket's `le="0.1"} `, for example). */
  bytes(b: Uint8Array): void {
    this.reserve(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** The bytes written from `start` to `end` (both from `length`, since the last `take()`) again. */
  repeat(start: number, end: number): void {
    this.reserve(end - start);
    this.buf.copyWithin(this.pos, start, end);
    this.pos += end - start;
  }

  /** `v` as `formatNumber` writes it; an integer of up to 31 bits without making a string. */
  number(v: number): void {
    if (v > 0x7fffffff || v < -0x7fffffff || v !== Math.trunc(v)) {
      this.text(formatNumber(v));
      return;
    }
    this.reserve(11);
    const buf = this.buf;
    if (v < 0) {
      buf[this.pos++] = MINUS;
      v = -v;
    }
    // Digits from the last; `v` fits 31 bits, so `| 0` is an exact integer division.
    let end = this.pos + digitCount(v);
    this.pos = end;
    do {
      const q = (v / 10) | 0;
      buf[--end] = ZERO + v - q * 10;
      v = q;
    } while (v > 0);
  }

  /** A copy of the bytes written since the last `take()`, which starts the writer again. */
  take(): Buffer {
    const out = Buffer.allocUnsafe(this.pos);
    this.buf.copy(out, 0, 0, this.pos);
    this.pos = 0;
    return out;
  }

  private reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const grown = Buffer.allocUnsafeSlow(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(grown, 0, 0, this.pos);
    this.buf = grown;
  }
}

export const NEWLINE = 0x0a;
export const SPACE = 0x20;
const MINUS = 0x2d;
const ZERO = 0x30;

/** The decimal digits of `v`, an integer from 0 to 2^31 - 1 (compared, not divided: it runs for every sample). */
function digitCount(v: number): number {
  if (v < 1e5) return v < 10 ? 1 : v < 100 ? 2 : v < 1e3 ? 3 : v < 1e4 ? 4 : 5;
  return v < 1e6 ? 6 : v < 1e7 ? 7 : v < 1e8 ? 8 : v < 1e9 ? 9 : 10;
}
