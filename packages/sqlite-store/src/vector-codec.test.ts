import { endianness } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { Histogram, Registry, Summary } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from './index.js';
import { DB_FILE } from './store.js';
import { removeTempDirs, tempDir } from './test-support/children.js';
import { parseExposition, sampleValue } from './test-support/exposition.js';
import { decodeVector, encodeVector, hexVectorInto } from './vector-codec.js';

afterAll(removeTempDirs);

const quiet = { warn() {} };
const hex = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');

/** The bytes of `values` as 0.1.0 wrote them: a Float64Array's memory, i.e. in the host's byte order. */
const asVersion010 = (values: number[]) => Buffer.from(Float64Array.from(values).buffer);

/** A store with one histogram (buckets 0.1 and 1) and one summary, flushed once; their stored blobs. */
function storeWithVectors(dir: string) {
  const registry = new Registry();
  const h = new Histogram({ name: 'codec_seconds', help: 'h', buckets: [0.1, 1], registers: [registry] });
  const s = new Summary({ name: 'codec_bytes', help: 's', registers: [registry] });
  for (const v of [0.05, 0.5, 5]) h.observe(v);
  for (const v of [100, 28]) s.observe(v);
  const store = openStore({ dir, flushIntervalMs: 60_000, logger: quiet });
  store.attach(registry);
  expect(store.flush()).toBe(true);
  const db = new Database(join(dir, DB_FILE));
  const blob = (metric: string) =>
    db
      .prepare('SELECT s.data FROM series s JOIN metrics m ON m.id = s.metric_id WHERE m.name = ?')
      .pluck()
      .get(metric) as Buffer;
  return { store, registry, h, s, db, blob };
}

describe('the vector blob codec', () => {
  it('round-trips every float64, infinities, -0 and NaN included', () => {
    fc.assert(
      fc.property(fc.array(fc.double(), { maxLength: 40 }), (values) => {
        expect([...decodeVector(encodeVector(values))]).toEqual(values);
        expect(encodeVector(values).byteLength).toBe(values.length * 8);
      }),
    );
  });

  it('writes little-endian float64s, 8 bytes each, no header (a pinned layout)', () => {
    // 1, 0.5, -2, +Inf in IEEE 754 binary64, least significant byte first.
    expect(hex(encodeVector([1, 0.5, -2, Number.POSITIVE_INFINITY]))).toBe(
      '000000000000f03f' + '000000000000e03f' + '00000000000000c0' + '000000000000f07f',
    );
    expect([...decodeVector(Buffer.from('000000000000f03f000000000000e03f', 'hex'))]).toEqual([1, 0.5]);
  });

  it("decodes SQLite's hex(data) of a blob to the same values, NaN and -0 included", () => {
    const db = new Database(':memory:');
    const hexOf = db.prepare('SELECT hex(?)').pluck();
    fc.assert(
      fc.property(fc.array(fc.double(), { minLength: 1, maxLength: 40 }), fc.nat(3), (values, at) => {
        const out = new Float64Array(at + values.length).fill(7);
        expect(hexVectorInto(hexOf.get(encodeVector(values)) as string, values.length, out, at)).toBe(true);
        expect([...out.subarray(at)]).toEqual(values);
        expect([...out.subarray(0, at)]).toEqual(new Array(at).fill(7)); // nothing before `at` written
      }),
    );
    // Lower case too; a text of another length (another definition's vector, NULL data read as '') is
    // refused and writes nothing.
    const out = Float64Array.of(7, 7);
    expect(hexVectorInto('000000000000f03f', 1, out)).toBe(true);
    expect(out[0]).toBe(1);
    expect(hexVectorInto('000000000000F03F', 2, out)).toBe(false);
    expect(hexVectorInto('', 1, out)).toBe(false);
    expect(hexVectorInto(null, 1, out)).toBe(false);
    expect([...out]).toEqual([1, 7]);
    db.close();
  });

  it('refuses a blob that is not whole values, naming its length', () => {
    expect(() => decodeVector(new Uint8Array(12))).toThrow('Invalid vector blob of 12 bytes: expected a multiple of 8');
  });
});

describe('the blobs a store writes', () => {
  it('are the pinned layout: histogram buckets (non-cumulative), sum, count; summary sum, count', () => {
    const { store, db, blob } = storeWithVectors(tempDir().dir);
    // Written with Buffer's explicit little-endian calls, independently of the codec.
    const le = (values: number[]) => {
      const b = Buffer.alloc(values.length * 8);
      for (const [i, v] of values.entries()) b.writeDoubleLE(v, i * 8);
      return b.toString('hex');
    };
    expect(blob('codec_seconds').toString('hex')).toBe(le([1, 1, 5.55, 3]));
    expect(blob('codec_bytes').toString('hex')).toBe(le([128, 2]));
    db.close();
    store.close();
  });

  it.runIf(endianness() === 'LE')(
    'read a database written by 0.1.0 (host-order Float64Array bytes, on this little-endian host) the same',
    async () => {
      const { dir } = tempDir();
      const { store, h, s, db, blob } = storeWithVectors(dir);
      // What 0.1.0 left in the file after other processes' flushes: buckets 4 and 2, sum 9.25, count 7;
      // summary sum 300, count 5, written its way (the bytes of a Float64Array).
      const update = db.prepare('UPDATE series SET data = ? WHERE metric_id = (SELECT id FROM metrics WHERE name = ?)');
      update.run(asVersion010([4, 2, 9.25, 7]), 'codec_seconds');
      update.run(asVersion010([300, 5]), 'codec_bytes');
      expect(blob('codec_seconds').equals(Buffer.from(encodeVector([4, 2, 9.25, 7])))).toBe(true);

      const reader = openStore({ dir, logger: quiet });
      let exp = parseExposition(await reader.metrics());
      expect(sampleValue(exp, 'codec_seconds_bucket', { le: '0.1' })).toBe(4);
      expect(sampleValue(exp, 'codec_seconds_bucket', { le: '1' })).toBe(6);
      expect(sampleValue(exp, 'codec_seconds_bucket', { le: '+Inf' })).toBe(7);
      expect(sampleValue(exp, 'codec_seconds_sum')).toBe(9.25);
      expect(sampleValue(exp, 'codec_bytes_sum')).toBe(300);
      expect(sampleValue(exp, 'codec_bytes_count')).toBe(5);

      // A writer of this version adds onto those blobs as onto its own.
      h.observe(0.5);
      s.observe(20);
      expect(store.flush()).toBe(true);
      exp = parseExposition(await reader.metrics());
      expect(sampleValue(exp, 'codec_seconds_bucket', { le: '1' })).toBe(7);
      expect(sampleValue(exp, 'codec_seconds_count')).toBe(8);
      expect(sampleValue(exp, 'codec_seconds_sum')).toBe(9.75);
      expect(sampleValue(exp, 'codec_bytes_sum')).toBe(320);
      expect(sampleValue(exp, 'codec_bytes_count')).toBe(6);
      db.close();
      reader.close();
      store.close();
    },
  );
});
