import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Counter, Histogram, Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { BATCH_ROWS, RowBatch } from './batch.js';
import { openStore } from './index.js';
import { labelKey } from './labels.js';
import { openDatabase } from './schema.js';
import { prepareStatements } from './statements.js';
import { DB_FILE } from './store.js';
import { removeTempDirs, tempDir } from './test-support/children.js';
import { parseExposition, sampleValue } from './test-support/exposition.js';
import { foldNow } from './test-support/fold.js';

afterAll(removeTempDirs);

const quiet = { warn() {} };
const K = 200; // label sets per metric: three full batches of updates and a remainder

describe('a metric deleted under a live writer', () => {
  it('is found missing at its next flush: what it recorded since is written into new rows, exactly once', async () => {
    const { dir } = tempDir();
    const registry = new Registry();
    const requests = new Counter({ name: 'gone_total', help: 'h', labelNames: ['k'], registers: [registry] });
    const duration = new Histogram({
      name: 'gone_seconds',
      help: 'h',
      labelNames: ['k'],
      buckets: [1],
      registers: [registry],
    });
    for (let k = 0; k < K; k++) {
      requests.inc({ k }, 5);
      duration.observe({ k }, 0.5);
    }
    const store = openStore({ dir, flushIntervalMs: 60_000, logger: quiet });
    store.attach(registry);
    expect(store.flush()).toBe(true);
    const reader = openStore({ dir, logger: quiet });
    expect(sampleValue(parseExposition(await reader.metrics()), 'gone_total', { k: '0' })).toBe(5);

    // Another process replaces both metrics (as it does when it takes their holders for dead), rows and all.
    // It folds the delta log first, as writer.ts resolveMetric does: this writer's +2 lands, then goes.
    for (let k = 0; k < K; k++) requests.inc({ k }, 2);
    expect(store.flush()).toBe(true);
    expect(sampleValue(parseExposition(await reader.metrics()), 'gone_total', { k: '0' })).toBe(7);
    foldNow(dir);
    const db = new Database(join(dir, DB_FILE));
    db.transaction(() => {
      db.exec('DELETE FROM series');
      db.exec('DELETE FROM metrics');
    })();
    db.close();

    for (let k = 0; k < K; k++) {
      requests.inc({ k });
      duration.observe({ k }, 2);
    }
    expect(store.flush()).toBe(true); // its metric rows are gone: resolved again, series rows made anew
    const after = parseExposition(await reader.metrics());
    for (let k = 0; k < K; k++) {
      const labels = { k: String(k) };
      // The deleted rows' values went with them; the new rows (ids reused: the table was emptied) hold
      // only what was recorded since.
      expect(sampleValue(after, 'gone_total', labels), `gone_total k=${k}`).toBe(1);
      expect(sampleValue(after, 'gone_seconds_count', labels), `count k=${k}`).toBe(1);
      expect(sampleValue(after, 'gone_seconds_sum', labels), `sum k=${k}`).toBe(2);
      expect(sampleValue(after, 'gone_seconds_bucket', { ...labels, le: '1' }), `le=1 k=${k}`).toBe(0);
    }
    store.close();
    reader.close();
  });
});

describe('RowBatch', () => {
  /** A real store file with rows 1..n in `series` (metric 1), and its prepared statements. */
  function seriesRows(n: number) {
    const db = openDatabase(join(tempDir().root, DB_FILE), 1000);
    const s = prepareStatements(db);
    const metric = (
      s.insertMetric.get('m_total', 'counter', 'h', '["k"]', null, null, 'sig') as {
        id: number;
      }
    ).id;
    const insert = db.prepare('INSERT INTO series (id, metric_id, key, labels, value) VALUES (?, ?, ?, ?, 0)');
    db.transaction(() => {
      for (let id = 1; id <= n; id++) insert.run(id, metric, labelKey(`k="${id}"`), `k="${id}"`);
    })();
    const value = (id: number) => db.prepare('SELECT value FROM series WHERE id = ?').pluck().get(id) as number;
    return { db, s, value };
  }

  it('adds every value once, ids that share a slot of its pending table included, and reports each row', () => {
    const { db, s, value } = seriesRows(5000);
    const batch = new RowBatch(s.addValues, s.addValue, s.seriesExists, true);
    const steps: Array<() => void> = [];
    batch.clear(steps);
    const applied: number[] = [];
    const missing: number[] = [];
    const add = (id: number, v: number) =>
      batch.add(
        id,
        v,
        () => applied.push(id),
        () => missing.push(id),
      );
    // 1, 1025, 2049, 3073 and 4097 map to one slot of 1024, which 1 holds; 1 comes three times and 1025
    // twice (each merged into its pending update), 9999 has no row.
    const ids = [1, 1025, 2049, 1, 1025, 3073, 4097, 1, 9999, 2];
    db.transaction(() => {
      for (const id of ids) add(id, id === 1 ? 10 : 1);
      for (let id = 100; id < 100 + 2 * BATCH_ROWS; id++) add(id, 2); // two full batches
      expect(applied).toEqual([]); // applied steps wait in the sink
      batch.finish();
    })();
    expect(value(1)).toBe(30);
    expect(value(1025)).toBe(2);
    for (const id of [2049, 3073, 4097, 2]) expect(value(id), `id ${id}`).toBe(1);
    for (let id = 100; id < 100 + 2 * BATCH_ROWS; id++) expect(value(id)).toBe(2);
    expect(missing).toEqual([9999]);
    for (const step of steps) step();
    expect(applied.sort((a, b) => a - b)).toEqual(
      [1, 1, 1, 2, 1025, 1025, 2049, 3073, 4097, ...Array.from({ length: 2 * BATCH_ROWS }, (_, k) => 100 + k)].sort(
        (a, b) => a - b,
      ),
    );
    db.close();
  });

  it('settles a pending id before its row is read, and only then: an id sharing its slot is not pending', () => {
    const { db, s, value } = seriesRows(3000);
    const batch = new RowBatch(s.addValues, s.addValue, s.seriesExists, true);
    batch.clear(); // no sink: applied is called as soon as the row is updated
    let applied = 0;
    const add = (id: number, v: number) =>
      batch.add(
        id,
        v,
        () => applied++,
        () => {},
      );
    db.transaction(() => {
      add(1, 5);
      add(1025, 1); // shares id 1's slot, which 1 holds
      batch.settle(2049); // shares it too, is not pending: nothing runs yet
      expect(value(1)).toBe(0);
      batch.settle(1025); // pending, though not the slot's holder: everything pending is applied
      expect(value(1)).toBe(5);
      expect(value(1025)).toBe(1);
      expect(applied).toBe(2);
      add(1, 5); // pending again after the settle: a new row update
      batch.finish();
    })();
    expect(value(1)).toBe(10);
    expect(applied).toBe(3);
    db.close();
  });
});
