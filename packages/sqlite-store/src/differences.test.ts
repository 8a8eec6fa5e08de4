// Issue 13 §2: the deliberate differences from prom-client and Python's multiprocess mode, each pinned by a
// test (the store README lists them under "Differences from prom-client and Python's multiprocess mode").
import { setTimeout as sleep } from 'node:timers/promises';
import { Counter, Gauge, Registry } from 'prom-client';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { openStore } from './index.js';
import { captureLogger, killAll, removeTempDirs, startWorker, tempDir } from './test-support/children.js';
import { parseExposition, sampleValue } from './test-support/exposition.js';

afterEach(killAll);
afterAll(removeTempDirs);

const gauge = (name: string, mode: string) => ({
  op: 'define',
  kind: 'gauge',
  config: { name, help: name, multiprocessMode: mode },
});

describe('kept, on purpose', () => {
  it('mostrecent: setting the same value again is not a new write (Python would make it the most recent)', async () => {
    const { dir } = tempDir();
    const a = await startWorker({
      dir,
      script: [gauge('m', 'mostrecent'), { op: 'set', name: 'm', value: 1 }, { op: 'flush' }],
    });
    await sleep(5);
    const b = await startWorker({
      dir,
      script: [gauge('m', 'mostrecent'), { op: 'set', name: 'm', value: 2 }, { op: 'flush' }],
    });
    await sleep(5);
    await a.call('set', { name: 'm', value: 1 });
    await a.call('flush');
    // Only changed values are written (a flush costs what changed); a set() of the same value is no change.
    const text = await b.call<string>('scrape', {});
    expect(sampleValue(parseExposition(text), 'm')).toBe(2);
  });

  it('a NaN gauge is left out of sum (Python and prom-client would give NaN for the whole series)', async () => {
    const { dir } = tempDir();
    await startWorker({ dir, script: [gauge('s', 'sum'), { op: 'set', name: 's', value: 'NaN' }, { op: 'flush' }] });
    const b = await startWorker({
      dir,
      script: [gauge('s', 'sum'), { op: 'set', name: 's', value: 3 }, { op: 'flush' }],
    });
    const text = await b.call<string>('scrape', {});
    expect(sampleValue(parseExposition(text), 's')).toBe(3);
  });

  it('a collector registered with registerMetric({ get() }) is not stored, with one log line', async () => {
    const registry = new Registry();
    registry.registerMetric({ name: 'custom', help: 'c', get: async () => ({ name: 'custom', values: [] }) } as never);
    new Counter({ name: 'kept_total', help: 'k', registers: [registry] }).inc();
    const { warnings, logger } = captureLogger();
    const store = openStore({ dir: tempDir().dir, flushIntervalMs: 3_600_000, logger });
    store.attach(registry);
    store.flush();
    store.flush();
    const text = await store.metrics();
    expect(text).not.toContain('custom');
    expect(sampleValue(parseExposition(text), 'kept_total')).toBe(1);
    expect(warnings.filter((w) => w.includes('custom'))).toHaveLength(1);
    store.close();
  });

  it('float totals are sums of the deltas written, which may differ from prom-client in the last digit', async () => {
    const registry = new Registry();
    const c = new Counter({ name: 'f_total', help: 'f', registers: [registry] });
    const store = openStore({ dir: tempDir().dir, flushIntervalMs: 3_600_000, logger: { warn() {} } });
    store.attach(registry);
    let stored = 0;
    let last = 0;
    for (const x of [0.1, 0.2, 0.3, 2 ** 53, 1, 0.7]) {
      c.inc(x);
      store.flush();
      const v = (await c.get()).values[0]?.value ?? 0;
      stored += v - last; // what the store adds: this process's delta since its last flush
      last = v;
    }
    const merged = sampleValue(parseExposition(await store.metrics()), 'f_total') as number;
    const own = (await c.get()).values[0]?.value as number;
    expect(merged).toBe(stored);
    expect(Math.abs(merged - own)).toBeLessThanOrEqual(4 * Number.EPSILON * own);
    store.close();
  });
});

describe('changed', () => {
  it('the same metric name in two attached registries of one process is a conflict, not a sum', async () => {
    const r1 = new Registry();
    const r2 = new Registry();
    new Counter({ name: 'dup_total', help: 'd', registers: [r1] }).inc(2);
    new Counter({ name: 'dup_total', help: 'd', registers: [r2] }).inc(5);
    const { warnings, logger } = captureLogger();
    const store = openStore({ dir: tempDir().dir, flushIntervalMs: 3_600_000, logger });
    store.attach(r1);
    store.attach(r2);
    store.flush();
    store.flush();
    expect(sampleValue(parseExposition(await store.metrics()), 'dup_total')).toBe(2);
    expect(store.health().conflicts).toEqual([
      { metric: 'dup_total', detail: expect.stringContaining('two attached registries') },
    ]);
    expect(warnings.filter((w) => w.includes('dup_total'))).toHaveLength(1);
    store.close();
  });

  it('a lone UTF-16 surrogate in a label value goes out as one U+FFFD, as prom-client sends it', async () => {
    const registry = new Registry();
    const g = new Gauge({ name: 'u', help: 'u', labelNames: ['v'], registers: [registry] });
    g.set({ v: 'a\uD800b' }, 1);
    const store = openStore({ dir: tempDir().dir, flushIntervalMs: 3_600_000, logger: { warn() {} } });
    store.attach(registry);
    store.flush();
    const text = await store.metrics();
    expect(text).toContain('u{v="a\uFFFDb"} 1');
    // prom-client's own text, encoded as an HTTP body would be, says the same.
    const own = Buffer.from(await registry.metrics(), 'utf8').toString('utf8');
    expect(own).toContain('u{v="a\uFFFDb"} 1');
    store.close();
  });
});
