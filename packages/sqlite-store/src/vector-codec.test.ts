import { join } from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { Counter, Histogram, Registry, Summary } from 'prom-client';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { openStore } from './index.js';
import { DB_FILE } from './store.js';
import { killAll, removeTempDirs, startWorker, tempDir } from './test-support/children.js';
import { parseExposition, sampleValue } from './test-support/exposition.js';
import { decodeVector, encodeVector, hexVectorInto } from './vector-codec.js';

afterEach(killAll);
afterAll(removeTempDirs);

const quiet = { warn() {} };
const hex = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');

/** `values` as schema version 1 stored them: little-endian float64s, 8 bytes each. */
const asFloat64s = (values: number[]) => {
  const b = Buffer.alloc(values.length * 8);
  for (const [i, v] of values.entries()) b.writeDoubleLE(v, i * 8);
  return b;
};

/**
 * Make the store file's `series` table what schema version 1 kept: a unique index on the label text and
 * `data` as n little-endian float64s (each row's vector, decoded).
 */
function toVersion1(db: Database.Database): void {
  // Version 1 had no delta log: fold it before (a scrape), or its deltas would be lost here.
  expect(db.prepare('SELECT count(*) FROM deltas').pluck().get()).toBe(0);
  db.exec('DROP TABLE deltas');
  const rows = db.prepare('SELECT id, vector FROM series').raw().all() as [number, Buffer | null][];
  db.exec(`CREATE TABLE series_v1 (id INTEGER PRIMARY KEY, metric_id INTEGER NOT NULL, labels TEXT NOT NULL,
    value REAL NOT NULL DEFAULT 0, data BLOB, retired_at REAL, UNIQUE (metric_id, labels));
    INSERT INTO series_v1 SELECT id, metric_id, labels, value, NULL, retired_at FROM series;
    DROP TABLE series; ALTER TABLE series_v1 RENAME TO series; PRAGMA user_version = 1;`);
  const set = db.prepare('UPDATE series SET data = ? WHERE id = ?');
  for (const [id, vector] of rows) if (vector) set.run(asFloat64s([...decodeVector(vector)]), id);
}

/** A store with one histogram (buckets 0.1 and 1) and one summary, flushed once; their stored blobs. */
async function storeWithVectors(dir: string) {
  const registry = new Registry();
  const h = new Histogram({ name: 'codec_seconds', help: 'h', buckets: [0.1, 1], registers: [registry] });
  const s = new Summary({ name: 'codec_bytes', help: 's', registers: [registry] });
  for (const v of [0.05, 0.5, 5]) h.observe(v);
  for (const v of [100, 28]) s.observe(v);
  const store = openStore({ dir, flushIntervalMs: 60_000, logger: quiet });
  store.attach(registry);
  expect(store.flush()).toBe(true);
  await store.metrics(); // a scrape folds the flush's deltas into the series rows (delta-log.ts)
  const db = new Database(join(dir, DB_FILE));
  const blob = (metric: string) =>
    db
      .prepare('SELECT s.vector FROM series s JOIN metrics m ON m.id = s.metric_id WHERE m.name = ?')
      .pluck()
      .get(metric) as Buffer;
  return { store, registry, h, s, db, blob };
}

describe('the vector blob codec', () => {
  it('round-trips every float64, infinities, -0 and NaN included, in at most 9 bytes a value', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.double(), fc.nat(), fc.maxSafeNat()), { maxLength: 40 }), (values) => {
        const blob = encodeVector(values);
        expect([...decodeVector(blob)]).toEqual(values);
        expect(blob.byteLength).toBeLessThanOrEqual(values.length * 9);
      }),
    );
  });

  it('writes whole numbers below 2^52 as LEB128 of twice the number, anything else as 01 and a little-endian float64 (a pinned layout)', () => {
    expect(hex(encodeVector([0, 1, 63, 64, 8191, 8192]))).toBe('00' + '02' + '7e' + '8001' + 'fe7f' + '808001');
    expect(hex(encodeVector([2 ** 52 - 1]))).toBe('feffffffffffff0f');
    // 0.5, -2, +Inf, -0, 2^52: IEEE 754 binary64, least significant byte first, after the marker.
    expect(hex(encodeVector([0.5, -2, Number.POSITIVE_INFINITY, -0, 2 ** 52]))).toBe(
      '01000000000000e03f' + '0100000000000000c0' + '01000000000000f07f' + '010000000000000080' + '010000000000003043',
    );
    expect([...decodeVector(Buffer.from('02' + '01000000000000e03f', 'hex'))]).toEqual([1, 0.5]);
  });

  it("decodes SQLite's hex() of a blob to the same values, NaN and -0 included", () => {
    const db = new Database(':memory:');
    const hexOf = db.prepare('SELECT hex(?)').pluck();
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.double(), fc.nat()), { minLength: 1, maxLength: 40 }),
        fc.nat(3),
        (values, at) => {
          const out = new Float64Array(at + values.length).fill(7);
          expect(hexVectorInto(hexOf.get(encodeVector(values)) as string, values.length, out, at)).toBe(true);
          expect([...out.subarray(at)]).toEqual(values);
          expect([...out.subarray(0, at)]).toEqual(new Array(at).fill(7)); // nothing before `at` written
        },
      ),
    );
    // Lower case too; a text of another number of entries (another definition's vector, NULL read as ''),
    // or cut short, is refused and writes nothing.
    const out = Float64Array.of(7, 7);
    expect(hexVectorInto('01000000000000f03f', 1, out)).toBe(true);
    expect(out[0]).toBe(1);
    expect(hexVectorInto('0204', 1, out)).toBe(false);
    expect(hexVectorInto('02', 2, out)).toBe(false);
    expect(hexVectorInto('0200000000000000F03F', 2, out)).toBe(false);
    expect(hexVectorInto('0280', 2, out)).toBe(false);
    expect(hexVectorInto('', 1, out)).toBe(false);
    expect(hexVectorInto(null, 1, out)).toBe(false);
    expect([...out]).toEqual([1, 7]);
    db.close();
  });

  it('refuses a blob that is not whole entries, saying which entry', () => {
    expect(() => decodeVector(Buffer.from('0201000000', 'hex'))).toThrow(
      'Invalid vector blob of 5 bytes: entry 1 is cut short or malformed',
    );
  });
});

describe('the blobs a store writes', () => {
  it('are the pinned layout: histogram buckets (non-cumulative), sum, count; summary sum, count', async () => {
    const { store, db, blob } = await storeWithVectors(tempDir().dir);
    // 1, 1, then 5.55 as a float64 (written with Buffer's explicit little-endian call), then 3.
    const float = (v: number) => {
      const b = Buffer.alloc(9);
      b[0] = 1;
      b.writeDoubleLE(v, 1);
      return b.toString('hex');
    };
    expect(blob('codec_seconds').toString('hex')).toBe(`0202${float(5.55)}06`);
    expect(blob('codec_bytes').toString('hex')).toBe('800204');
    db.close();
    store.close();
  });

  it('upgrade a version-1 database in place: its float64 vectors, labels and counters read the same, and older writers can no longer write', async () => {
    const { dir } = tempDir();
    const { store, registry, db } = await storeWithVectors(dir);
    const c = new Counter({ name: 'codec_total', help: 'c', labelNames: ['k'], registers: [registry] });
    c.inc({ k: 'café 日本' }, 5);
    expect(store.flush()).toBe(true);
    await store.metrics();
    store.close();
    // The same file as version 1 kept it: a unique index on the label text, n little-endian float64s in
    // `data`, which other processes' flushes made buckets 4 and 2, sum 9.25, count 7; summary 300, 5.
    toVersion1(db);
    const update = db.prepare('UPDATE series SET data = ? WHERE metric_id = (SELECT id FROM metrics WHERE name = ?)');
    update.run(asFloat64s([4, 2, 9.25, 7]), 'codec_seconds');
    update.run(asFloat64s([300, 5]), 'codec_bytes');
    // An older process's statements, prepared before the upgrade.
    const olderWrite = db.prepare('UPDATE series SET data = ? WHERE id = ?');
    const olderInsert = db.prepare(
      `INSERT INTO series (metric_id, labels) VALUES (1, 'k="x"')
       ON CONFLICT (metric_id, labels) DO UPDATE SET metric_id = excluded.metric_id RETURNING id`,
    );

    const reader = openStore({ dir, logger: quiet });
    let exp = parseExposition(await reader.metrics());
    expect(db.pragma('user_version', { simple: true })).toBe(3);
    expect(sampleValue(exp, 'codec_seconds_bucket', { le: '0.1' })).toBe(4);
    expect(sampleValue(exp, 'codec_seconds_bucket', { le: '1' })).toBe(6);
    expect(sampleValue(exp, 'codec_seconds_bucket', { le: '+Inf' })).toBe(7);
    expect(sampleValue(exp, 'codec_seconds_sum')).toBe(9.25);
    expect(sampleValue(exp, 'codec_bytes_sum')).toBe(300);
    expect(sampleValue(exp, 'codec_bytes_count')).toBe(5);
    expect(sampleValue(exp, 'codec_total', { k: 'café 日本' })).toBe(5);
    expect(() => olderWrite.run(asFloat64s([1, 1, 1, 1]), 1)).toThrow(/data/);
    expect(() => olderInsert.get()).toThrow(/ON CONFLICT/);

    // A writer of this version adds onto the upgraded rows, and finds the counter's series by its label set.
    const next = new Registry();
    new Histogram({ name: 'codec_seconds', help: 'h', buckets: [0.1, 1], registers: [next] }).observe(0.5);
    new Summary({ name: 'codec_bytes', help: 's', registers: [next] }).observe(20);
    new Counter({ name: 'codec_total', help: 'c', labelNames: ['k'], registers: [next] }).inc({ k: 'café 日本' }, 2);
    const writer = openStore({ dir, flushIntervalMs: 60_000, logger: quiet });
    writer.attach(next);
    expect(writer.flush()).toBe(true);
    exp = parseExposition(await reader.metrics());
    expect(sampleValue(exp, 'codec_seconds_bucket', { le: '1' })).toBe(7);
    expect(sampleValue(exp, 'codec_seconds_count')).toBe(8);
    expect(sampleValue(exp, 'codec_seconds_sum')).toBe(9.75);
    expect(sampleValue(exp, 'codec_bytes_sum')).toBe(320);
    expect(sampleValue(exp, 'codec_bytes_count')).toBe(6);
    expect(sampleValue(exp, 'codec_total', { k: 'café 日本' })).toBe(7);
    expect(db.prepare('SELECT count(*) FROM series WHERE labels = \'k="café 日本"\'').pluck().get()).toBe(1);
    db.close();
    reader.close();
    writer.close();
  });

  it('upgrade once when processes open a version-1 database at the same time, each adding onto it', async () => {
    const { dir } = tempDir();
    // One definition for this process and the four below (a different one would be a conflict, not stored).
    const counter = { name: 'up_total', help: 'c', labelNames: ['k'] };
    const histogram = { name: 'up_seconds', help: 'h', labelNames: ['k'], buckets: [0.1, 1] };
    const registry = new Registry();
    const c = new Counter({ ...counter, registers: [registry] });
    const h = new Histogram({ ...histogram, registers: [registry] });
    for (let k = 0; k < 1500; k++) {
      c.inc({ k: String(k) }, k);
      h.observe({ k: String(k) }, 0.5);
    }
    const store = openStore({ dir, flushIntervalMs: 60_000, logger: quiet });
    store.attach(registry);
    expect(store.flush()).toBe(true);
    await store.metrics();
    store.close();
    const db = new Database(join(dir, DB_FILE));
    toVersion1(db);

    // Four processes, started together, each opening the file at its first flush.
    const define = [
      { op: 'define', kind: 'counter', config: counter },
      { op: 'define', kind: 'histogram', config: histogram },
    ];
    const workers = await Promise.all(
      [0, 1, 2, 3].map((w) =>
        startWorker({
          dir,
          script: [
            ...define,
            { op: 'inc', name: 'up_total', labels: { k: '7' }, value: 1 },
            { op: 'observe', name: 'up_seconds', labels: { k: '7' }, value: 0.05 },
            { op: 'inc', name: 'up_total', labels: { k: `new${w}` }, value: 1 },
          ],
        }),
      ),
    );
    expect(await Promise.all(workers.map((w) => w.call('flush')))).toEqual([true, true, true, true]);
    for (const w of workers) expect(w.stderr()).toBe('');

    const reader = openStore({ dir, logger: quiet });
    const exp = parseExposition(await reader.metrics());
    expect(db.pragma('user_version', { simple: true })).toBe(3);
    expect(sampleValue(exp, 'up_total', { k: '7' })).toBe(11);
    expect(sampleValue(exp, 'up_total', { k: '1499' })).toBe(1499);
    for (let w = 0; w < 4; w++) expect(sampleValue(exp, 'up_total', { k: `new${w}` })).toBe(1);
    expect(sampleValue(exp, 'up_seconds_bucket', { k: '7', le: '0.1' })).toBe(4);
    expect(sampleValue(exp, 'up_seconds_bucket', { k: '7', le: '1' })).toBe(5);
    expect(sampleValue(exp, 'up_seconds_count', { k: '7' })).toBe(5);
    expect(sampleValue(exp, 'up_seconds_sum', { k: '7' })).toBeCloseTo(0.7, 12);
    expect(sampleValue(exp, 'up_seconds_count', { k: '1499' })).toBe(1);
    // One row per label set: 1500 of each metric, and the four new counter series.
    expect(db.prepare('SELECT count(*) FROM series').pluck().get()).toBe(3004);
    db.close();
    reader.close();
    for (const w of workers) w.send('end');
  });
});
