import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { openStore } from './index.js';
import { killAll, removeTempDirs, startWorker, tempDir } from './test-support/children.js';
import { parseExposition, samplesOf, sampleValue } from './test-support/exposition.js';
import { havePromtool, openMetricsProblems, promtoolProblems } from './test-support/validate.js';

afterEach(killAll);
afterAll(removeTempDirs);

const quiet = { warn() {} };

/** The first deploy's definitions, each with a value. */
const OLD = [
  { op: 'define', kind: 'histogram', config: { name: 'typed_seconds', help: 'Was a histogram', buckets: [1] } },
  { op: 'define', kind: 'counter', config: { name: 'labeled_total', help: 'Labels x', labelNames: ['x'] } },
  { op: 'define', kind: 'histogram', config: { name: 'bucketed_seconds', help: 'Buckets 1', buckets: [1] } },
  { op: 'define', kind: 'counter', config: { name: 'old_only_total', help: 'Only in the old deploy' } },
  { op: 'observe', name: 'typed_seconds', value: 0.5 },
  { op: 'inc', name: 'labeled_total', labels: { x: 'a' }, value: 2 },
  { op: 'observe', name: 'bucketed_seconds', value: 0.5 },
  { op: 'inc', name: 'old_only_total', value: 4 },
  { op: 'flush' },
];

/** The next deploy changed the type of one, the label names of another, the buckets of a third. */
const NEW = [
  { op: 'define', kind: 'gauge', config: { name: 'typed_seconds', help: 'Now a gauge', multiprocessMode: 'livemax' } },
  { op: 'define', kind: 'counter', config: { name: 'labeled_total', help: 'Labels y', labelNames: ['y'] } },
  { op: 'define', kind: 'histogram', config: { name: 'bucketed_seconds', help: 'Buckets 1, 2', buckets: [1, 2] } },
  { op: 'define', kind: 'counter', config: { name: 'new_only_total', help: 'Only in the new deploy' } },
  { op: 'set', name: 'typed_seconds', value: 7 },
  { op: 'inc', name: 'labeled_total', labels: { y: 'b' }, value: 3 },
  { op: 'observe', name: 'bucketed_seconds', value: 1.5 },
  { op: 'inc', name: 'new_only_total', value: 5 },
  { op: 'flush' },
];

describe('two processes defining the same metric differently', () => {
  it('report a conflict, keep the stored definition and expose everything else validly', async () => {
    const { dir } = tempDir();
    const old = await startWorker({ dir, script: OLD });
    const next = await startWorker({ dir, script: NEW });
    expect([old.ready.results.at(-1), next.ready.results.at(-1)]).toEqual([true, true]);
    expect(await next.call('flush')).toBe(true);

    const reader = openStore({ dir, logger: quiet });
    const conflicts = reader.health().conflicts;
    expect(conflicts.map((c) => c.metric)).toEqual(['bucketed_seconds', 'labeled_total', 'typed_seconds']);
    expect(conflicts[0]?.detail).toContain('buckets [1] vs [1,2]');
    expect(conflicts[1]?.detail).toContain('labels ["x"] vs ["y"]');
    expect(conflicts[2]?.detail).toContain('type "histogram" vs "gauge"');

    const text = await reader.metrics();
    const exp = parseExposition(text);
    expect(exp.families.find((f) => f.name === 'typed_seconds')?.type).toBe('histogram');
    expect(sampleValue(exp, 'typed_seconds_count')).toBe(1);
    expect(sampleValue(exp, 'labeled_total', { x: 'a' })).toBe(2);
    expect(samplesOf(exp, 'labeled_total')).toHaveLength(1);
    expect(sampleValue(exp, 'bucketed_seconds_bucket', { le: '1' })).toBe(1);
    expect(sampleValue(exp, 'old_only_total')).toBe(4);
    expect(sampleValue(exp, 'new_only_total')).toBe(5);
    if (havePromtool()) expect(promtoolProblems(text)).toEqual([]);
    expect(openMetricsProblems(await reader.metrics({ format: 'openmetrics' }))).toEqual([]);

    // The process whose values are not stored says so in its log, once per metric (not per flush).
    const notices = next
      .stderr()
      .split('\n')
      .filter((l) => l.startsWith('WARN metric'));
    expect(notices).toHaveLength(3);
    expect(notices.find((l) => l.includes('labeled_total'))).toMatch(/not stored.*labels \["x"\] vs \["y"\]/);

    // Once the old deploy's process is gone, the new definitions replace the old ones (whose values go),
    // and the new process's values since its start are written.
    old.send('end');
    expect(await old.exited).toEqual({ code: 0, signal: null });
    expect(await next.call('flush')).toBe(true);
    expect(reader.health().conflicts).toEqual([]);
    const after = parseExposition(await reader.metrics());
    expect(after.families.find((f) => f.name === 'typed_seconds')).toMatchObject({
      type: 'gauge',
      help: 'Now a gauge',
    });
    expect(sampleValue(after, 'typed_seconds')).toBe(7);
    expect(samplesOf(after, 'labeled_total')).toEqual([{ name: 'labeled_total', labels: { y: 'b' }, value: 3 }]);
    expect(sampleValue(after, 'bucketed_seconds_bucket', { le: '2' })).toBe(1);
    expect(sampleValue(after, 'bucketed_seconds_bucket', { le: '1' })).toBe(0);
    expect(sampleValue(after, 'old_only_total')).toBe(4);
    reader.close();
  });

  it('a deploy that changes a definition after the old processes exited replaces it without a conflict', async () => {
    const { dir } = tempDir();
    const old = await startWorker({ dir, script: OLD, afterReady: 'end' });
    expect(await old.exited).toEqual({ code: 0, signal: null });
    const next = await startWorker({ dir, script: NEW });
    expect(next.ready.results.at(-1)).toBe(true);

    const reader = openStore({ dir, logger: quiet });
    expect(reader.health().conflicts).toEqual([]);
    const exp = parseExposition(await reader.metrics());
    expect(sampleValue(exp, 'typed_seconds')).toBe(7);
    expect(samplesOf(exp, 'labeled_total')).toEqual([{ name: 'labeled_total', labels: { y: 'b' }, value: 3 }]);
    expect(sampleValue(exp, 'bucketed_seconds_count')).toBe(1);
    expect(next.stderr()).toBe('');
    reader.close();
  });
});
