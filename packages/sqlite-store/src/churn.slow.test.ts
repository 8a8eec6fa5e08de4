import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { openStore } from './index.js';
import { killAll, killHard, removeTempDirs, startWorker, tempDir } from './test-support/children.js';
import { parseExposition, samplesOf, sampleValue } from './test-support/exposition.js';
import { havePromtool, promtoolProblems } from './test-support/validate.js';

afterEach(killAll);
afterAll(removeTempDirs);

const quiet = { warn() {} };
/** At most this many dead writers stay unfolded (gc.ts MAX_RETAINED_DEAD, the documented bound). */
const RETAINED_DEAD = 16;

/**
 * One short-lived writer: a counter (+1, flushed; churn() adds +1 that only a clean exit writes), a histogram,
 * and gauges in modes that outlive their process (sum, max, min) or not (livesum, all).
 */
function script(i: number) {
  const gauge = (name: string, mode: string, value: number | 'NaN') => [
    { op: 'define', kind: 'gauge', config: { name, help: mode, multiprocessMode: mode } },
    { op: 'set', name, value },
  ];
  return [
    { op: 'define', kind: 'counter', config: { name: 'churn_jobs_total', help: 'Jobs', labelNames: ['kind'] } },
    { op: 'define', kind: 'histogram', config: { name: 'churn_job_seconds', help: 'Time', buckets: [1, 2] } },
    { op: 'inc', name: 'churn_jobs_total', labels: { kind: 'k' } },
    { op: 'observe', name: 'churn_job_seconds', value: 1.5 },
    ...gauge('churn_workers', 'sum', 1),
    ...gauge('churn_highest', 'max', i),
    ...gauge('churn_lowest', 'min', i + 1000),
    ...gauge('churn_live', 'livesum', 1),
    ...gauge('churn_each', 'all', i),
    // NaN (a ratio with nothing to divide) contributes nothing to a sum, before and after folding.
    ...gauge('churn_ratio', 'sum', i === 0 ? 'NaN' : 0.5),
  ];
}

/**
 * The database's size once every connection closed (SQLite then checkpoints the WAL into it and removes
 * it). Measured so for both stores: while connections are open the WAL keeps its high-water mark,
 * which depends on the writes since the last checkpoint, not on how many processes ever wrote.
 */
function storedBytes(dir: string): number {
  const db = join(dir, 'kci-metrics.sqlite');
  return statSync(db).size + (existsSync(`${db}-wal`) ? statSync(`${db}-wal`).size : 0);
}

/** Run `n` writers, `parallel` at a time; every `killEvery`-th one is SIGKILLed, the others end cleanly. */
async function churn(dir: string, n: number, parallel: number, killEvery: number): Promise<number> {
  let killed = 0;
  for (let base = 0; base < n; base += parallel) {
    await Promise.all(
      Array.from({ length: Math.min(parallel, n - base) }, async (_, k) => {
        const i = base + k;
        const kill = i % killEvery === killEvery - 1;
        const w = await startWorker({ dir, script: script(i) });
        // 16 processes starting at once contend for the write lock: a periodic flush may give up
        // (it waits 50 ms) and is simply retried, as the flush timer would.
        while (!(await w.call('flush'))) {}
        await w.call('inc', { name: 'churn_jobs_total', labels: { kind: 'k' } }); // written by a clean exit only
        if (kill) {
          killed++;
          await killHard(w);
        } else {
          w.send('end');
          expect(await w.exited).toEqual({ code: 0, signal: null });
        }
      }),
    );
  }
  return killed;
}

describe('many short-lived writers', () => {
  it('are folded away: storage and output stay those of a small store, totals stay exact', async () => {
    const small = tempDir().dir;
    await churn(small, 2, 2, 1000);
    const baseline = openStore({ dir: small, logger: quiet });
    const baseText = await baseline.metrics();
    baseline.close();
    const baseSize = storedBytes(small);

    const { dir } = tempDir();
    const N = 48;
    const killed = await churn(dir, N, 16, 4);
    expect(killed).toBe(12);

    // Writers fold dead ones themselves (at their first flush, then every 30), so storage stays bounded
    // without a scrape: at most the retained ones plus the last batch, which died after every fold.
    const reader = openStore({ dir, logger: quiet });
    const afterChurn = reader.health();
    expect(afterChurn.liveWriters).toBe(0);
    expect(afterChurn.deadWriters).toBeLessThanOrEqual(RETAINED_DEAD + 16);
    expect(afterChurn.deadWriters + afterChurn.foldedWriters).toBe(N);
    const survivor = await startWorker({ dir, script: script(N) });
    await survivor.call('inc', { name: 'churn_jobs_total', labels: { kind: 'k' } });
    for (let i = 0; i < 30; i++) expect(await survivor.call('flush'), survivor.stderr()).toBe(true);
    expect(reader.health()).toMatchObject({
      liveWriters: 1,
      deadWriters: RETAINED_DEAD,
      foldedWriters: N - RETAINED_DEAD,
    });
    await killHard(survivor);

    const text = await reader.metrics();
    const exp = parseExposition(text);
    const health = reader.health();
    expect(health).toMatchObject({ liveWriters: 0, deadWriters: RETAINED_DEAD, foldedWriters: N + 1 - RETAINED_DEAD });

    // Totals over every writer that ever ran, folded or not.
    expect(sampleValue(exp, 'churn_jobs_total', { kind: 'k' })).toBe(2 * (N - killed) + killed + 2);
    expect(sampleValue(exp, 'churn_job_seconds_count')).toBe(N + 1);
    expect(sampleValue(exp, 'churn_workers')).toBe(N + 1);
    expect(sampleValue(exp, 'churn_highest')).toBe(N);
    expect(sampleValue(exp, 'churn_lowest')).toBe(1000);
    expect(sampleValue(exp, 'churn_ratio')).toBe(N / 2);
    expect(samplesOf(exp, 'churn_live')).toEqual([]);
    expect(samplesOf(exp, 'churn_each').length).toBeLessThanOrEqual(RETAINED_DEAD);
    if (havePromtool()) expect(promtoolProblems(text)).toEqual([]);

    // The output has the shape of the two-writer store's (so has the scrape's cost), and the database
    // a small multiple of its size.
    const shape = (t: string) => t.split('\n').filter((l) => !l.startsWith('churn_each')).length;
    expect(shape(text)).toBe(shape(baseText));
    reader.close();
    expect(storedBytes(dir)).toBeLessThanOrEqual(2 * baseSize);
  });
});
