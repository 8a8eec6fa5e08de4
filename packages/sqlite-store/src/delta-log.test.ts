import { join } from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { Counter, Histogram, Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { DeltaBuffer, foldDeltas, LOG_BOUND, LOG_ROW_ENTRIES } from './delta-log.js';
import { openStore } from './index.js';
import { labelKey } from './labels.js';
import { openDatabase } from './schema.js';
import { prepareStatements } from './statements.js';
import { DB_FILE } from './store.js';
import { removeTempDirs, tempDir } from './test-support/children.js';
import { parseExposition, sampleValue } from './test-support/exposition.js';
import { decodeVector } from './vector-codec.js';

afterAll(removeTempDirs);

const quiet = { warn() {} };

/** The value of `log_total{k}` as its series row holds it (what folds and direct writes put there). */
function storedCounter(db: Database.Database, k: string): unknown {
  return db
    .prepare(
      "SELECT value FROM series s JOIN metrics m ON m.id = s.metric_id WHERE m.name = 'log_total' AND labels = ?",
    )
    .pluck()
    .get(`k="${k}"`);
}

async function until(done: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!done()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Equal but for float rounding: the fold adds the sum of the deltas, not each delta in turn. */
function near(got: number, want: number): void {
  expect(Math.abs(got - want)).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(want)));
}

function worker(dir: string, labelSets = 300, maxSeries?: number) {
  const registry = new Registry();
  const counter = new Counter({ name: 'log_total', help: 'c', labelNames: ['k'], registers: [registry] });
  const histogram = new Histogram({
    name: 'log_seconds',
    help: 'h',
    labelNames: ['k'],
    buckets: [0.1, 1],
    registers: [registry],
  });
  const record = (k: number, n = 1) => {
    counter.inc({ k }, n);
    histogram.observe({ k }, 0.5);
  };
  for (let k = 0; k < labelSets; k++) record(k);
  const store = openStore({ dir, flushIntervalMs: 60_000, logger: quiet, maxSeries });
  store.attach(registry);
  return { store, record };
}

describe('the delta log', () => {
  it('takes one row per flush of up to LOG_ROW_ENTRIES entries; a scrape shows it at once and folds it after answering', async () => {
    const { dir } = tempDir();
    const w = worker(dir);
    expect(w.store.flush()).toBe(true); // the first flush adds to the rows it makes: no log
    for (let k = 0; k < 300; k++) w.record(k, 2);
    expect(w.store.flush()).toBe(true);
    for (let k = 0; k < 300; k++) w.record(k, 2);
    expect(w.store.flush()).toBe(true);
    const db = new Database(join(dir, DB_FILE));
    const log = () => db.prepare('SELECT entries FROM deltas ORDER BY id').pluck().all();
    const total = () => db.prepare("SELECT total(value) FROM series WHERE labels LIKE 'k=%'").pluck().get();
    // Two flushes of 600 series each (300 counters, 300 histograms): two rows; the series rows as the first left them.
    expect(log()).toEqual([600, 600]);
    expect(total()).toBe(300);

    const reader = openStore({ dir, logger: quiet });
    const first = await reader.scrape();
    const exp = parseExposition(first.body);
    for (const k of ['0', '299']) {
      expect(sampleValue(exp, 'log_total', { k })).toBe(5);
      expect(sampleValue(exp, 'log_seconds_bucket', { k, le: '1' })).toBe(3);
      expect(sampleValue(exp, 'log_seconds_count', { k })).toBe(3);
      expect(sampleValue(exp, 'log_seconds_sum', { k })).toBe(1.5);
    }
    // Once the scrape is answered, its store folds what it showed; the next scrape renders nothing again.
    await until(() => log().length === 0);
    expect(total()).toBe(1500);
    const second = await reader.scrape();
    expect(second.body).toBe(first.body);
    expect(second.parts.version).toBe(first.parts.version);
    db.close();
    reader.close();
    w.store.close();
  });

  it('splits a flush of more than LOG_ROW_ENTRIES entries into rows of at most that many, each folded whole', async () => {
    const { dir } = tempDir();
    const labelSets = Math.ceil(LOG_ROW_ENTRIES * 0.6); // a counter and a histogram each: 1.2 rows' worth
    const w = worker(dir, labelSets, labelSets + 1); // and the overflow series
    expect(w.store.flush()).toBe(true);
    for (let k = 0; k < labelSets; k++) w.record(k, 2);
    expect(w.store.flush()).toBe(true);
    const db = new Database(join(dir, DB_FILE));
    const log = () => db.prepare('SELECT entries FROM deltas ORDER BY id').pluck().all();
    expect(log()).toEqual([LOG_ROW_ENTRIES, 2 * labelSets - LOG_ROW_ENTRIES]);
    const reader = openStore({ dir, logger: quiet });
    const exp = parseExposition(await reader.metrics());
    for (const k of ['0', String(labelSets - 1)]) {
      expect(sampleValue(exp, 'log_total', { k })).toBe(3);
      expect(sampleValue(exp, 'log_seconds_count', { k })).toBe(2);
    }
    await until(() => log().length === 0);
    expect(storedCounter(db, String(labelSets - 1))).toBe(3);
    db.close();
    reader.close();
    w.store.close();
  });

  it('is folded by a store that scraped once, at its flush interval, scraped again or not', async () => {
    const { dir } = tempDir();
    const w = worker(dir, 10);
    expect(w.store.flush()).toBe(true);
    const reader = openStore({ dir, flushIntervalMs: 20, logger: quiet });
    await reader.metrics();
    const db = new Database(join(dir, DB_FILE));
    const rows = () => db.prepare('SELECT count(*) FROM deltas').pluck().get();
    w.record(0);
    expect(w.store.flush()).toBe(true);
    expect(rows()).toBe(1);
    await until(() => rows() === 0);
    const value = storedCounter(db, '0');
    expect(value).toBe(2);
    db.close();
    reader.close();
    w.store.close();
  });

  it('when full (nobody folds it: no aggregator), flushes add to the series rows themselves', async () => {
    const { dir } = tempDir();
    const w = worker(dir, 10);
    expect(w.store.flush()).toBe(true);
    const db = new Database(join(dir, DB_FILE));
    // A row that counts as the whole bound (and adds nothing).
    db.prepare("INSERT INTO deltas (writer_id, at, entries, body) VALUES (0, 0, ?, x'')").run(LOG_BOUND);
    w.record(0, 4);
    expect(w.store.flush()).toBe(true);
    expect(db.prepare('SELECT count(*) FROM deltas').pluck().get()).toBe(1);
    const value = storedCounter(db, '0');
    expect(value).toBe(5);
    const exp = parseExposition(await w.store.metrics());
    expect(sampleValue(exp, 'log_total', { k: '0' })).toBe(5);
    expect(sampleValue(exp, 'log_seconds_count', { k: '0' })).toBe(2);
    db.close();
    w.store.close();
  });

  it('shows what a later flush logged on top of a fold in progress: a scrape between them counts everything once', async () => {
    const { dir } = tempDir();
    const w = worker(dir, 50);
    expect(w.store.flush()).toBe(true);
    const reader = openStore({ dir, logger: quiet });
    let expected = 50;
    for (let round = 0; round < 5; round++) {
      for (let k = 0; k < 50; k++) w.record(k, round + 1);
      expected += 50 * (round + 1);
      expect(w.store.flush()).toBe(true);
      // Scraped twice in a row, before and (maybe) after the first one's fold ran.
      for (const text of [await reader.metrics(), await reader.metrics()]) {
        const exp = parseExposition(text);
        const sum = exp.samples.filter((s) => s.name === 'log_total').reduce((n, s) => n + s.value, 0);
        expect(sum).toBe(expected);
      }
    }
    reader.close();
    w.store.close();
  });

  it('skips a damaged row when shown and drops it when folded, counting it; the others count', async () => {
    const { dir } = tempDir();
    const w = worker(dir, 5);
    expect(w.store.flush()).toBe(true);
    const db = new Database(join(dir, DB_FILE));
    // Series 1's vector entry (n=3) with a delta for slot 9, then a counter entry whose float is cut short:
    // neither row adds anything.
    db.prepare('INSERT INTO deltas (writer_id, at, entries, body) VALUES (1, 0, 1, ?)').run(
      Buffer.from('0606021202', 'hex'),
    );
    db.prepare('INSERT INTO deltas (writer_id, at, entries, body) VALUES (1, 0, 1, ?)').run(
      Buffer.from('0401abcd', 'hex'),
    );
    w.record(4, 10);
    expect(w.store.flush()).toBe(true);
    const exp = parseExposition(await w.store.metrics());
    expect(sampleValue(exp, 'log_total', { k: '4' })).toBe(11);
    expect(sampleValue(exp, 'log_total', { k: '0' })).toBe(1);
    // The scrape showed the good row without folding; its store folds after answering.
    await until(() => db.prepare('SELECT count(*) FROM deltas').pluck().get() === 0);
    expect(db.prepare("SELECT value FROM meta WHERE key = 'unreadable_deltas'").pluck().get()).toBe(2);
    db.close();
    w.store.close();
  });

  it('is folded before a replaced definition deletes its series rows: the new rows never get the old deltas', async () => {
    const { dir } = tempDir();
    // A process records, exits (its last flush is in the log, unfolded) ...
    const registry = new Registry();
    const old = new Counter({ name: 'swap_total', help: 'old', labelNames: ['k'], registers: [registry] });
    for (let k = 0; k < 50; k++) old.inc({ k }, 100);
    const first = openStore({ dir, flushIntervalMs: 60_000, logger: quiet });
    first.attach(registry);
    first.close();
    // ... and the next deploy defines the metric otherwise: no live process holds the old one, so it is
    // replaced, and its series rows deleted. The table is emptied: the new rows take ids 1, 2, ... again.
    const next = new Registry();
    const now = new Counter({ name: 'swap_total', help: 'new', labelNames: ['j'], registers: [next] });
    for (let j = 0; j < 50; j++) now.inc({ j });
    const second = openStore({ dir, flushIntervalMs: 60_000, logger: quiet });
    second.attach(next);
    expect(second.flush()).toBe(true);
    const exp = parseExposition(await second.metrics());
    const samples = exp.samples.filter((s) => s.name === 'swap_total');
    expect(samples).toHaveLength(50);
    for (const s of samples) expect(s.value).toBe(1);
    second.close();
  });

  it('sums any deltas exactly as adding them to the rows one by one would (DeltaBuffer, then foldDeltas)', () => {
    const db = openDatabase(join(tempDir().root, DB_FILE), 1000);
    const s = prepareStatements(db);
    const metric = (
      s.insertMetric.get('m', 'histogram', 'h', '["k"]', '[1]', null, 'sig') as {
        id: number;
      }
    ).id;
    const insert = db.prepare('INSERT INTO series (id, metric_id, key, labels) VALUES (?, ?, ?, ?)');
    for (let id = 1; id <= 40; id++) insert.run(id, metric, labelKey(`k="${id}"`), `k="${id}"`);
    const read = db.prepare('SELECT value, vector FROM series WHERE id = ?').raw();
    const delta = fc.oneof(fc.integer({ min: 0, max: 2 ** 40 }), fc.double({ min: -1e12, max: 1e12, noNaN: true }));
    const entry = fc.record({
      id: fc.integer({ min: 1, max: 40 }),
      values: fc.oneof(fc.tuple(delta), fc.array(fc.nat({ max: 1000 }), { minLength: 3, maxLength: 3 })),
    });
    fc.assert(
      fc.property(fc.array(fc.array(entry, { maxLength: 30 }), { maxLength: 4 }), (flushes) => {
        db.exec('UPDATE series SET value = 0, vector = NULL');
        const expected = new Map<number, number[]>();
        const buffer = new DeltaBuffer();
        for (const flush of flushes) {
          buffer.clear();
          for (const { id, values } of flush) {
            // A series is a counter (one value) or a vector (three) for the whole run: its id decides.
            const vector = id % 2 === 0;
            const v = vector ? (values.length === 3 ? values : [values[0] as number, 0, 0]) : [values[0] as number];
            if (vector) buffer.addVector(id, v, 3);
            else buffer.addValue(id, v[0] as number);
            const sum = expected.get(id) ?? (vector ? [0, 0, 0] : [0]);
            expected.set(
              id,
              sum.map((x, i) => x + (v[i] as number)),
            );
          }
          for (const [entries, body] of buffer.rows()) s.insertDeltas.run(1, 0, entries, body);
        }
        db.transaction(() => foldDeltas(s)).immediate();
        expect(db.prepare('SELECT count(*) FROM deltas').pluck().get()).toBe(0);
        for (const [id, sum] of expected) {
          const [value, vector] = read.get(id) as [number, Buffer | null];
          if (id % 2 === 0) {
            const got = vector ? [...decodeVector(vector)] : [0, 0, 0];
            for (let i = 0; i < 3; i++) near(got[i] as number, sum[i] as number);
          } else near(value, sum[0] as number);
        }
      }),
      { numRuns: 60 },
    );
    db.close();
  });
});
