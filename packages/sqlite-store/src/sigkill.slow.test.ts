import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { openStore } from './index.js';
import {
  type Child,
  killAll,
  killHard,
  removeTempDirs,
  startFixture,
  startWorker,
  tempDir,
} from './test-support/children.js';
import { parseExposition, sampleValue } from './test-support/exposition.js';

afterEach(killAll);
afterAll(removeTempDirs);

const quiet = { warn() {} };
const COUNTER = { kind: 'counter', config: { name: 'jobs_total', help: 'Jobs', labelNames: ['queue'] } };
const HISTOGRAM = { kind: 'histogram', config: { name: 'job_seconds', help: 'Job time', buckets: [1, 10] } };
const define = [
  { op: 'define', ...COUNTER },
  { op: 'define', ...HISTOGRAM },
];

async function scrape(store: ReturnType<typeof openStore>) {
  const exp = parseExposition(await store.metrics());
  return {
    jobs: sampleValue(exp, 'jobs_total', { queue: 'q' }),
    count: sampleValue(exp, 'job_seconds_count'),
    sum: sampleValue(exp, 'job_seconds_sum'),
    le1: sampleValue(exp, 'job_seconds_bucket', { le: '1' }),
  };
}

describe('SIGKILL of a writer', () => {
  it('keeps exactly what was flushed before the kill and loses only what was recorded after', async () => {
    const { dir } = tempDir();
    const w = await startWorker({ dir, script: define });
    await w.call('inc', { name: 'jobs_total', labels: { queue: 'q' }, value: 100 });
    await w.call('observe', { name: 'job_seconds', value: 0.5 });
    expect(await w.call('flush')).toBe(true);
    await w.call('inc', { name: 'jobs_total', labels: { queue: 'q' }, value: 20 });
    await w.call('observe', { name: 'job_seconds', value: 4 });
    expect(await w.call('flush')).toBe(true);
    // Recorded after the last flush: this is what the kill loses, and all it loses.
    await w.call('inc', { name: 'jobs_total', labels: { queue: 'q' }, value: 7 });
    await w.call('observe', { name: 'job_seconds', value: 0.25 });
    expect(await killHard(w)).toEqual({ code: null, signal: 'SIGKILL' });

    const reader = openStore({ dir, logger: quiet });
    expect(await scrape(reader)).toEqual({ jobs: 120, count: 2, sum: 4.5, le1: 1 });
    expect(reader.health()).toMatchObject({ liveWriters: 0, deadWriters: 1 });

    // Nothing is counted twice: a later writer adds to the same series, and repeated scrapes
    // (which fold dead writers) do not change the totals.
    const next = await startWorker({ dir, script: define });
    await next.call('inc', { name: 'jobs_total', labels: { queue: 'q' }, value: 5 });
    expect(await next.call('flush')).toBe(true);
    expect((await scrape(reader)).jobs).toBe(125);
    expect((await scrape(reader)).jobs).toBe(125);
    reader.close();
  });
});

describe('a writer restart', () => {
  it('never makes a total go down: a new process continues the counts of the killed one', async () => {
    const { dir } = tempDir();
    const reader = openStore({ dir, logger: quiet });
    const seen: number[] = [];
    let expected = 0;
    // Four generations of "the same worker": killed, killed, clean exit, process.exit().
    for (const [i, end] of (['kill', 'kill', 'end', 'exit'] as const).entries()) {
      const w = await startWorker({ dir, script: define });
      await w.call('inc', { name: 'jobs_total', labels: { queue: 'q' }, value: 10 + i });
      await w.call('observe', { name: 'job_seconds', value: 2 });
      expect(await w.call('flush')).toBe(true);
      expected += 10 + i;
      seen.push((await scrape(reader)).jobs ?? 0);
      await w.call('inc', { name: 'jobs_total', labels: { queue: 'q' }, value: 1 });
      if (end === 'kill') {
        await killHard(w);
      } else {
        // Clean ends write what was recorded since the last flush (the exit hook).
        w.send(end);
        expect(await w.exited).toEqual({ code: 0, signal: null });
        expected += 1;
      }
      seen.push((await scrape(reader)).jobs ?? 0);
    }
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
    expect(await scrape(reader)).toEqual({ jobs: expected, count: 4, sum: 8, le1: 0 });
    reader.close();
  });
});

describe('SIGKILL of workers in a loop under load', () => {
  /** The progress file of test-support/loop.mjs: N of the last "pre" and of the last "post" line. */
  function progressOf(file: string): { pre: number; post: number } {
    let pre = 0;
    let post = 0;
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const [kind, n] = line.split(' ');
      if (kind === 'pre') pre = Number(n);
      if (kind === 'post') post = Number(n);
    }
    return { pre, post };
  }

  it('keeps the database sound, totals never go down, and each kill loses at most the unflushed work', async () => {
    const { root, dir } = tempDir();
    const reader = openStore({ dir, logger: quiet });
    const slots = ['0', '1', '2'];
    const bounds = new Map(slots.map((s) => [s, { low: 0, high: 0 }]));
    let lastTotal = 0;
    for (let round = 0; round < 3; round++) {
      const workers: Array<{ slot: string; progress: string; child: Child }> = [];
      for (const slot of slots) {
        const progress = join(root, `progress-${round}-${slot}`);
        const child = await startFixture('loop.mjs', [JSON.stringify({ dir, slot, progress, flushEvery: 50 })]);
        workers.push({ slot, progress, child });
      }
      // Kill each at a random moment of its work (the first flush is done: it announced itself).
      await Promise.all(
        workers.map(async ({ child }) => {
          await sleep(10 + Math.floor(Math.random() * 100));
          await killHard(child);
        }),
      );
      for (const { slot, progress } of workers) {
        const { pre, post } = progressOf(progress);
        const b = bounds.get(slot) as { low: number; high: number };
        b.low += post;
        b.high += pre;
      }
      const exp = parseExposition(await reader.metrics());
      const total = slots.reduce((n, slot) => n + (sampleValue(exp, 'loop_requests_total', { slot }) ?? 0), 0);
      expect(total).toBeGreaterThanOrEqual(lastTotal);
      lastTotal = total;
      // Each flush is one transaction: the shared histogram counts exactly what the counters do.
      expect(sampleValue(exp, 'loop_duration_seconds_count')).toBe(total);
    }
    const exp = parseExposition(await reader.metrics());
    for (const slot of slots) {
      const { low, high } = bounds.get(slot) as { low: number; high: number };
      const stored = sampleValue(exp, 'loop_requests_total', { slot }) ?? 0;
      expect(stored, `slot ${slot}`).toBeGreaterThanOrEqual(low);
      expect(stored, `slot ${slot}`).toBeLessThanOrEqual(high);
    }
    reader.close();
    const db = new Database(join(dir, 'kci-metrics.sqlite'), { readonly: true });
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    db.close();
  });
});
