import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { MULTIPROCESS_MODES, openStore } from './index.js';
import { type Child, killAll, killHard, removeTempDirs, startWorker, tempDir } from './test-support/children.js';
import { havePromtool, openMetricsProblems, promtoolProblems } from './test-support/validate.js';

afterEach(killAll);
afterAll(removeTempDirs);

const quiet = { warn() {} };

/** The sample lines of one metric family, exactly as exposed. */
function linesOf(text: string, name: string): string[] {
  return text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
}

/** Gauge `<mode>_merged` with label kind="k": A sets 2, B sets 5, C (killed later) sets 10, or -1 for min modes. */
const gaugeOps = (value: (mode: string) => number) =>
  MULTIPROCESS_MODES.flatMap((mode) => [
    {
      op: 'define',
      kind: 'gauge',
      config: { name: `${mode}_merged`, help: `mode ${mode}`, labelNames: ['kind'], multiprocessMode: mode },
    },
    { op: 'set', name: `${mode}_merged`, labels: { kind: 'k' }, value: value(mode) },
    { op: 'flush' },
  ]);

describe('gauges merge by their multiprocessMode', () => {
  it('over two live writers and one killed writer, for every mode', async () => {
    const { dir } = tempDir();
    const start = (value: (mode: string) => number) => startWorker({ dir, script: gaugeOps(value) });
    // Started and flushed one after the other, a few ms apart, so that "most recent" is well defined: C last.
    const a = await start(() => 2);
    await sleep(5);
    const b = await start(() => 5);
    await sleep(5);
    const c = await start((mode) => (mode.includes('min') ? -1 : 10));
    for (const w of [a, b, c])
      expect(w.ready.results.filter((r) => r === true)).toHaveLength(MULTIPROCESS_MODES.length);
    await killHard(c);

    const reader = openStore({ dir, logger: quiet });
    const text = await reader.metrics();
    const byPid = (ws: Child[], v: (w: Child) => number, mode: string) =>
      [...ws].sort((x, y) => x.pid - y.pid).map((w) => `${mode}_merged{kind="k",pid="${w.pid}"} ${v(w)}`);
    const value = (w: Child) => (w === a ? 2 : w === b ? 5 : 10);
    expect(linesOf(text, 'all_merged')).toEqual(byPid([a, b, c], value, 'all'));
    expect(linesOf(text, 'liveall_merged')).toEqual(byPid([a, b], value, 'liveall'));
    expect(linesOf(text, 'sum_merged')).toEqual(['sum_merged{kind="k"} 17']);
    expect(linesOf(text, 'livesum_merged')).toEqual(['livesum_merged{kind="k"} 7']);
    expect(linesOf(text, 'min_merged')).toEqual(['min_merged{kind="k"} -1']);
    expect(linesOf(text, 'livemin_merged')).toEqual(['livemin_merged{kind="k"} 2']);
    expect(linesOf(text, 'max_merged')).toEqual(['max_merged{kind="k"} 10']);
    expect(linesOf(text, 'livemax_merged')).toEqual(['livemax_merged{kind="k"} 5']);
    expect(linesOf(text, 'mostrecent_merged')).toEqual(['mostrecent_merged{kind="k"} 10']);
    expect(linesOf(text, 'livemostrecent_merged')).toEqual(['livemostrecent_merged{kind="k"} 5']);
    expect(text).toContain('# HELP livemax_merged mode livemax\n# TYPE livemax_merged gauge\n');

    if (havePromtool()) expect(promtoolProblems(text)).toEqual([]);
    expect(openMetricsProblems(await reader.metrics({ format: 'openmetrics' }))).toEqual([]);

    // A minute later the dead writer is folded: sum/min/max/mostrecent keep its value, `all` forgets it.
    // (Time passes in the database: its death is dated 61 s back instead of waiting for it.)
    expect(reader.health()).toMatchObject({ liveWriters: 2, deadWriters: 1, foldedWriters: 0 });
    const db = new Database(reader.path);
    db.prepare('UPDATE writers SET dead_at = dead_at - 61000 WHERE dead_at IS NOT NULL').run();
    db.close();
    const folded = await reader.metrics();
    expect(reader.health()).toMatchObject({ liveWriters: 2, deadWriters: 0, foldedWriters: 1 });
    expect(linesOf(folded, 'all_merged')).toEqual(byPid([a, b], value, 'all'));
    expect(linesOf(folded, 'sum_merged')).toEqual(['sum_merged{kind="k"} 17']);
    expect(linesOf(folded, 'min_merged')).toEqual(['min_merged{kind="k"} -1']);
    expect(linesOf(folded, 'max_merged')).toEqual(['max_merged{kind="k"} 10']);
    expect(linesOf(folded, 'mostrecent_merged')).toEqual(['mostrecent_merged{kind="k"} 10']);
    for (const mode of MULTIPROCESS_MODES.filter((m) => m.startsWith('live'))) {
      expect(linesOf(folded, `${mode}_merged`), mode).toEqual(linesOf(text, `${mode}_merged`));
    }
    // The live writers keep writing after the fold: the folded value stays in the merge.
    await a.call('set', { name: 'sum_merged', labels: { kind: 'k' }, value: 3 });
    expect(await a.call('flush')).toBe(true);
    expect(linesOf(await reader.metrics(), 'sum_merged')).toEqual(['sum_merged{kind="k"} 18']);
    reader.close();
  });

  it('default to livesum, follow set/inc/dec and remove(), and forget a killed process', async () => {
    const { dir } = tempDir();
    const script = [
      {
        op: 'define',
        kind: 'gauge',
        config: { name: 'in_flight', help: 'Requests in flight', labelNames: ['method'] },
      },
      { op: 'set', name: 'in_flight', labels: { method: 'GET' }, value: 4 },
      { op: 'inc', name: 'in_flight', labels: { method: 'POST' }, value: 1 },
      { op: 'flush' },
    ];
    const a = await startWorker({ dir, script });
    const b = await startWorker({ dir, script });
    const reader = openStore({ dir, logger: quiet });
    expect(linesOf(await reader.metrics(), 'in_flight')).toEqual([
      'in_flight{method="GET"} 8',
      'in_flight{method="POST"} 2',
    ]);

    await a.call('dec', { name: 'in_flight', labels: { method: 'GET' }, value: 3 });
    await a.call('remove', { name: 'in_flight', labels: { method: 'POST' } });
    expect(await a.call('flush')).toBe(true);
    expect(linesOf(await reader.metrics(), 'in_flight')).toEqual([
      'in_flight{method="GET"} 5',
      'in_flight{method="POST"} 1',
    ]);

    await killHard(b);
    expect(linesOf(await reader.metrics(), 'in_flight')).toEqual(['in_flight{method="GET"} 1']);
    // No process reports the gauge any more: the family disappears rather than showing a stale value.
    await killHard(a);
    expect(await reader.metrics()).not.toContain('in_flight');
    reader.close();
  });
});
