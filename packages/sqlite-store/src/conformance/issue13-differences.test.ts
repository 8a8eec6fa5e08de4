import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoreHealth } from '../index.js';
import { killAll, removeTempDirs, tempDir } from '../test-support/children.js';
import { call, define, flush, type Scrape, scrape, startWriter, type Writer } from './support/harness.js';

/**
 * Issue 13, section 2: where the store differed from prom-client or Python's client when the issue was
 * filed. Each case asserts what the other client does, except where the store's README lists the
 * difference as deliberate: then it pins the documented behaviour and says what the other client does.
 * (mostrecent and NaN in sum/livesum: python-multiprocess.test.ts.)
 *
 * Not here: "float totals telescoped from deltas differ in the last digit near 2^53". For one series
 * of one writer the telescoped total equals prom-client's exactly (fl(a + fl(fl(a + x) - a)) = fl(a + x)
 * in round-to-nearest; 10^6 random pairs found no counterexample), and the differential test compares
 * exact values. Sums over several writers are added in a different order than any one client adds them,
 * and no client defines that order.
 */

let out: Scrape;
let health: StoreHealth;
let writer: Writer;

beforeAll(async () => {
  const dir = tempDir().dir;
  const w = await startWriter(dir);
  writer = w;
  await w.child.call('addRegistry');
  // registerTest.js "should throw if same name exists on both registers" (Registry.merge).
  await w.run([define('counter', { name: 'twice_total', help: 'h' }), call('twice_total', 'inc', 1)], 0);
  await w.run([define('counter', { name: 'twice_total', help: 'h' }), call('twice_total', 'inc', 2)], 1);
  // registerTest.js getMetric(): a collector, rendered by prom-client like any metric.
  await w.child.call('collector', {
    metric: {
      name: 'test_collector',
      type: 'counter',
      help: 'A test metric',
      values: [
        { value: 12, labels: { label: 'hello', code: '303' } },
        { value: 34, labels: { label: 'bye', code: '404' } },
      ],
    },
  });
  await w.run([
    define('counter', { name: 'surrogate_total', help: 'h', labelNames: ['v'] }),
    call('surrogate_total', 'inc', { v: 'a\uD800b' }),
    flush,
  ]);
  health = (await w.child.call('health')) as StoreHealth;
  out = await scrape(dir);
}, 60_000);

afterAll(async () => {
  await killAll();
  removeTempDirs();
});

describe('issue 13, section 2', () => {
  it('every scrape is valid for promtool and both Python parsers', () => {
    expect(out.problems).toEqual([]);
  });

  it('one metric name in two registries of one process is a conflict (prom-client refuses to merge them)', () => {
    expect(health.conflicts.map((c) => c.metric)).toContain('twice_total');
  });

  // prom-client renders a collector like any metric. The store keeps it out (documented difference: it
  // stores prom-client metric types only) and says so once: at the flush that first meets it (one flush
  // here, as in a short job that flushes once at exit).
  it('a collector registered with registerMetric({ get() }) is not stored, and that is logged once (prom-client: rendered)', () => {
    expect(out.exp.samples.filter((s) => s.name === 'test_collector')).toEqual([]);
    expect(
      writer.child
        .stderr()
        .split('\n')
        .filter((l) => l.includes('test_collector')),
    ).toHaveLength(1);
  });

  it("a lone UTF-16 surrogate goes out as one U+FFFD, as prom-client's text does once encoded in UTF-8", () => {
    const expected = Buffer.from('a\uD800b', 'utf8').toString('utf8');
    expect(expected).toBe('a\uFFFDb');
    expect(out.exp.samples.find((s) => s.name === 'surrogate_total')?.labels.v).toBe(expected);
  });
});
