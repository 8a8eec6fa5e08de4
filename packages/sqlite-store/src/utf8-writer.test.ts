import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatNumber } from './labels.js';
import { NEWLINE, Utf8Writer } from './utf8-writer.js';

describe('Utf8Writer', () => {
  it('writes any number as formatNumber does, digits of small integers included', () => {
    const w = new Utf8Writer();
    const edges = [0, -0, 1, -1, 9, 10, 99, 100, 0x7fffffff, -0x7fffffff, 0x80000000, -0x80000000, 2 ** 53, 1e21];
    const more = [0.1, -2.5, 1e-7, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];
    for (const v of [...edges, ...more]) {
      w.number(v);
      expect(w.take().toString('latin1'), `number ${v}`).toBe(formatNumber(v));
    }
    fc.assert(
      fc.property(fc.oneof(fc.integer(), fc.double(), fc.integer({ min: -1e6, max: 1e6 })), (v) => {
        w.number(v);
        return w.take().toString('latin1') === formatNumber(v);
      }),
      { numRuns: 20_000 },
    );
  });

  it('encodes text as Buffer.from does, non-ASCII and lone surrogates included', () => {
    const w = new Utf8Writer();
    for (const s of ['', 'plain', 'café', 'a"b\\n', '日本語', '\u{1F600}x', 'x\uD800y', '\uDC00']) {
      w.text(s);
      expect(w.take().equals(Buffer.from(s, 'utf8')), JSON.stringify(s)).toBe(true);
    }
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.string(), (a, b) => {
        w.text(a);
        w.byte(NEWLINE);
        w.text(b);
        return w.take().equals(Buffer.from(`${a}\n${b}`, 'utf8'));
      }),
    );
  });

  it('grows past its first buffer and repeats what it wrote, across the growth', () => {
    const w = new Utf8Writer();
    const line = 'http_request_duration_seconds_bucket{method="GET",endpoint="/api/e1",';
    let expected = '';
    w.text(line);
    expected += line;
    for (let i = 0; i < 5_000; i++) {
      w.repeat(0, line.length);
      w.bytes(Buffer.from(`le="${i}"} `));
      w.number(i);
      w.byte(NEWLINE);
      expected += `${line}le="${i}"} ${i}\n`;
    }
    expect(w.length).toBeGreaterThan(64 * 1024);
    expect(w.take().toString('utf8')).toBe(expected);
    expect(w.length).toBe(0);
  });
});
