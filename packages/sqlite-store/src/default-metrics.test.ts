import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { openStore } from './index.js';
import { type Child, killAll, killHard, removeTempDirs, startWorker, tempDir } from './test-support/children.js';
import { parseExposition, samplesOf, sampleValue } from './test-support/exposition.js';
import { havePromtool, openMetricsProblems, promtoolProblems } from './test-support/validate.js';

afterEach(killAll);
afterAll(removeTempDirs);

/** The unlabelled value a worker's prom-client held at its last flush (peek runs no collect()). */
async function held(w: Child, name: string): Promise<number> {
  const entries = await w.call<Array<{ labels: object; value: number }>>('peek', { name });
  const entry = entries.find((e) => Object.keys(e.labels).length === 0);
  if (!entry) throw new Error(`${name} has no unlabelled value`);
  return entry.value;
}

describe("prom-client's default metrics on attached registries", () => {
  it('merge meaningfully over two processes: CPU summed, memory summed over live ones, version once', async () => {
    const { dir } = tempDir();
    const start = () => startWorker({ dir, defaultMetrics: true, script: [{ op: 'flush' }] });
    const a = await start();
    const b = await start();
    expect([a.ready.results, b.ready.results]).toEqual([[true], [true]]);
    const reader = openStore({ dir, logger: { warn() {} } });
    const text = await reader.metrics();
    const exp = parseExposition(text);

    const [cpuA, cpuB] = [await held(a, 'process_cpu_seconds_total'), await held(b, 'process_cpu_seconds_total')];
    expect(cpuA).toBeGreaterThan(0);
    expect(sampleValue(exp, 'process_cpu_seconds_total')).toBeCloseTo(cpuA + cpuB, 9);

    for (const name of [
      'process_resident_memory_bytes',
      'nodejs_heap_size_used_bytes',
      'nodejs_external_memory_bytes',
    ]) {
      const [va, vb] = [await held(a, name), await held(b, name)];
      expect(sampleValue(exp, name), name).toBe(va + vb);
    }
    const [startA, startB] = [await held(a, 'process_start_time_seconds'), await held(b, 'process_start_time_seconds')];
    expect(sampleValue(exp, 'process_start_time_seconds')).toBe(Math.min(startA, startB));

    const version = samplesOf(exp, 'nodejs_version_info');
    expect(version).toHaveLength(1);
    expect(version[0]).toMatchObject({ value: 1, labels: { version: process.version } });

    // Lint off: prom-client itself names gauges nodejs_active_handles_total etc., which promtool's lint flags.
    if (havePromtool()) expect(promtoolProblems(text, { lint: false })).toEqual([]);
    expect(openMetricsProblems(await reader.metrics({ format: 'openmetrics' }))).toEqual([]);

    // A process that is gone: its memory no longer counts, its CPU seconds still do.
    await killHard(b);
    const after = parseExposition(await reader.metrics());
    expect(sampleValue(after, 'process_resident_memory_bytes')).toBe(await held(a, 'process_resident_memory_bytes'));
    expect(sampleValue(after, 'process_cpu_seconds_total')).toBeCloseTo(cpuA + cpuB, 9);
    expect(sampleValue(after, 'process_start_time_seconds')).toBe(startA);
    expect(samplesOf(after, 'nodejs_version_info')).toHaveLength(1);
    reader.close();
  });
});
