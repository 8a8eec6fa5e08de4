import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Counter, Histogram, Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from './index.js';
import { DB_FILE } from './store.js';
import { removeTempDirs, tempDir } from './test-support/children.js';
import { parseExposition, sampleValue } from './test-support/exposition.js';

afterAll(removeTempDirs);

const quiet = { warn() {} };
const K = 200; // label sets per metric: three full batches of updates and a remainder

describe('series rows that disappear under a live writer', () => {
  it('counts what was applied once and writes the rest again, in batched and single-row updates alike', async () => {
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

    // Another process takes every third row away (as when it replaces a metric it believes nobody holds).
    const db = new Database(join(dir, DB_FILE));
    const removed = db.prepare('DELETE FROM series WHERE id % 3 = 0').run().changes;
    db.close();
    expect(removed).toBeGreaterThan(100);
    const reader = openStore({ dir, logger: quiet });
    const before = parseExposition(await reader.metrics());
    const kept = (name: string) =>
      new Set(
        Array.from({ length: K }, (_, k) => String(k)).filter((k) => sampleValue(before, name, { k }) !== undefined),
      );
    const keptCounters = kept('gone_total');
    const keptHistograms = kept('gone_seconds_count');
    expect(keptCounters.size).toBeLessThan(K);
    expect(keptHistograms.size).toBeLessThan(K);

    for (let k = 0; k < K; k++) {
      requests.inc({ k });
      duration.observe({ k }, 2);
    }
    expect(store.flush()).toBe(true); // finds rows missing: what it applied is kept, the rest stays pending
    expect(store.flush()).toBe(true); // resolves the series again and writes what was pending
    const after = parseExposition(await reader.metrics());
    for (let k = 0; k < K; k++) {
      const labels = { k: String(k) };
      expect(sampleValue(after, 'gone_total', labels), `gone_total k=${k}`).toBe(keptCounters.has(labels.k) ? 6 : 1);
      const survived = keptHistograms.has(labels.k);
      expect(sampleValue(after, 'gone_seconds_count', labels), `count k=${k}`).toBe(survived ? 2 : 1);
      expect(sampleValue(after, 'gone_seconds_sum', labels), `sum k=${k}`).toBe(survived ? 2.5 : 2);
      expect(sampleValue(after, 'gone_seconds_bucket', { ...labels, le: '1' }), `le=1 k=${k}`).toBe(survived ? 1 : 0);
    }
    store.close();
    reader.close();
  });
});
