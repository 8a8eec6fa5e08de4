import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { openStore } from './index.js';
import { killAll, removeTempDirs, runFixture, tempDir } from './test-support/children.js';
import { parseExposition, sampleValue } from './test-support/exposition.js';
import { havePromtool, openMetricsProblems, promtoolProblems } from './test-support/validate.js';

afterEach(killAll);
afterAll(removeTempDirs);

/** What test-support/load.mjs observes, in turn (exact binary fractions: sums do not depend on order). */
const LOAD_VALUES = [0.0625, 0.125, 0.5, 1, 2, 8];
const LOAD_BUCKETS = [0.1, 0.25, 1, 5];
const quiet = { warn() {} };

describe('several processes writing the same series at once', () => {
  it('sums the counter, every histogram bucket, _sum and _count exactly, and every scrape is consistent', async () => {
    const { dir } = tempDir();
    const W = 4;
    const N = 3000; // a multiple of LOAD_VALUES.length
    const reader = openStore({ dir, logger: quiet });
    const runs = Array.from({ length: W }, () =>
      runFixture('load.mjs', [JSON.stringify({ dir, n: N, flushIntervalMs: 10 })]),
    );
    let done = false;
    const all = Promise.all(runs).finally(() => (done = true));

    // Scrape while they write: totals only grow, and each flush lands whole (a process records /a,
    // /b (by 2) and one observation together, so every scrape must show b = 2a and count = a).
    let last = 0;
    let scrapes = 0;
    while (!done) {
      const exp = parseExposition(await reader.metrics());
      const a = sampleValue(exp, 'load_requests_total', { route: '/a' }) ?? 0;
      expect(a).toBeGreaterThanOrEqual(last);
      expect(sampleValue(exp, 'load_requests_total', { route: '/b' }) ?? 0).toBe(2 * a);
      expect(sampleValue(exp, 'load_duration_seconds_count', { route: '/a' }) ?? 0).toBe(a);
      last = a;
      scrapes++;
      await sleep(5);
    }
    for (const r of await all) expect(r, r.stderr).toMatchObject({ code: 0, signal: null });
    expect(scrapes).toBeGreaterThan(0);

    const text = await reader.metrics();
    const exp = parseExposition(text);
    const total = W * N;
    expect(sampleValue(exp, 'load_requests_total', { route: '/a' })).toBe(total);
    expect(sampleValue(exp, 'load_requests_total', { route: '/b' })).toBe(2 * total);
    const per = total / LOAD_VALUES.length;
    for (const le of LOAD_BUCKETS) {
      const below = LOAD_VALUES.filter((v) => v <= le).length * per;
      expect(sampleValue(exp, 'load_duration_seconds_bucket', { route: '/a', le: String(le) }), `le=${le}`).toBe(below);
    }
    expect(sampleValue(exp, 'load_duration_seconds_bucket', { route: '/a', le: '+Inf' })).toBe(total);
    expect(sampleValue(exp, 'load_duration_seconds_count', { route: '/a' })).toBe(total);
    expect(sampleValue(exp, 'load_duration_seconds_sum', { route: '/a' })).toBe(
      LOAD_VALUES.reduce((s, v) => s + v, 0) * per,
    );

    if (havePromtool()) expect(promtoolProblems(text)).toEqual([]);
    expect(openMetricsProblems(await reader.metrics({ format: 'openmetrics' }))).toEqual([]);
    expect(reader.health()).toMatchObject({ liveWriters: 0, conflicts: [] });
    reader.close();
  });

  it('sums hundreds of label sets per metric exactly (several batched updates per flush)', async () => {
    const { dir } = tempDir();
    const W = 3;
    const N = 6000;
    const SPREAD = 300; // N / SPREAD and the per-route share of LOAD_VALUES are whole numbers
    const runs = Array.from({ length: W }, () =>
      runFixture('load.mjs', [JSON.stringify({ dir, n: N, flushIntervalMs: 10, spread: SPREAD })]),
    );
    for (const r of await Promise.all(runs)) expect(r, r.stderr).toMatchObject({ code: 0, signal: null });

    const reader = openStore({ dir, logger: quiet });
    const exp = parseExposition(await reader.metrics());
    const perRoute = (W * N) / SPREAD;
    for (let k = 0; k < SPREAD; k++) {
      const route = `/s${k}`;
      expect(sampleValue(exp, 'load_requests_total', { route }), route).toBe(perRoute);
      expect(sampleValue(exp, 'load_duration_seconds_count', { route }), route).toBe(perRoute);
      // Route k sees LOAD_VALUES[i % 6] for i = k, k + SPREAD, ...: SPREAD is a multiple of 6, so always one value.
      const value = LOAD_VALUES[k % LOAD_VALUES.length] as number;
      expect(sampleValue(exp, 'load_duration_seconds_sum', { route }), route).toBe(value * perRoute);
      expect(sampleValue(exp, 'load_duration_seconds_bucket', { route, le: '0.25' }), route).toBe(
        value <= 0.25 ? perRoute : 0,
      );
    }
    expect(sampleValue(exp, 'load_requests_total', { route: '/a' })).toBe(W * N);
    reader.close();
  });
});
