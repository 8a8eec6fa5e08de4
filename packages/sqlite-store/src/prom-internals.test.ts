// Issue 13 §3: every read of prom-client internals sits behind prom-internals.ts, which checks the shapes
// and falls back to prom-client's public API for metrics kept another way (prom-client main's LabelMap).
import { Counter, Registry } from 'prom-client';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { openStore } from './index.js';
import { checkPromClient, type PromClientLike, promClientVersion } from './prom-internals.js';
import { captureLogger, removeTempDirs, tempDir } from './test-support/children.js';
import { parseExposition, sampleValue } from './test-support/exposition.js';
import { LabelMapCounter, LabelMapGauge, LabelMapHistogram, labelMapClient } from './test-support/labelmap-metrics.js';

afterAll(removeTempDirs);

describe('the check of prom-client internals', () => {
  it('passes for the installed prom-client 15', () => {
    expect(promClientVersion()).toMatch(/^15\./);
    expect(checkPromClient()).toBeUndefined();
  });

  it('names what differs for metrics that keep their values in a LabelMap', () => {
    expect(checkPromClient(labelMapClient as unknown as PromClientLike)).toMatch(/hashMap/);
  });
});

describe('a registry holding metrics shaped like prom-client main (LabelMap storage)', () => {
  it('is stored through the public API: exact values, logged once per metric with the version, no failed flush', async () => {
    const registry = new Registry();
    const c = new LabelMapCounter({ name: 'lm_total', help: 'c', labelNames: ['k'] });
    const g = new LabelMapGauge({ name: 'lm_gauge', help: 'g', multiprocessMode: 'max' });
    const h = new LabelMapHistogram({ name: 'lm_seconds', help: 'h', buckets: [0.1, 1] });
    for (const m of [c, g, h]) registry.registerMetric(m as never);
    const native = new Counter({ name: 'native_total', help: 'n', registers: [registry] });
    const { warnings, logger } = captureLogger();
    const store = openStore({ dir: tempDir().dir, flushIntervalMs: 20, logger });
    store.attach(registry);
    c.inc({ k: 'a' }, 3);
    c.inc({ k: 'b' });
    g.set({}, 7);
    h.observe({}, 0.05);
    h.observe({}, 0.5);
    h.observe({}, 5);
    native.inc(2);
    const expected = (text: string) => {
      const exp = parseExposition(text);
      return [
        sampleValue(exp, 'lm_total', { k: 'a' }),
        sampleValue(exp, 'lm_total', { k: 'b' }),
        sampleValue(exp, 'lm_gauge'),
        sampleValue(exp, 'lm_seconds_bucket', { le: '0.1' }),
        sampleValue(exp, 'lm_seconds_bucket', { le: '1' }),
        sampleValue(exp, 'lm_seconds_count'),
        sampleValue(exp, 'lm_seconds_sum'),
        sampleValue(exp, 'native_total'),
      ];
    };
    await vi.waitFor(async () => expect(expected(await store.metrics())).toEqual([3, 1, 7, 1, 2, 3, 5.55, 2]), {
      timeout: 20_000,
      interval: 50,
    });
    c.inc({ k: 'a' }, 4);
    await vi.waitFor(
      async () => expect(sampleValue(parseExposition(await store.metrics()), 'lm_total', { k: 'a' })).toBe(7),
      {
        timeout: 20_000,
        interval: 50,
      },
    );
    for (const name of ['lm_total', 'lm_gauge', 'lm_seconds']) {
      const lines = warnings.filter((w) => w.includes(`metric ${name}:`));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(`prom-client ${promClientVersion()}`);
      expect(lines[0]).toContain('public API');
    }
    expect(warnings.join('\n')).not.toMatch(/cannot write/);
    expect(store.health().flushFailures).toBe(0);
    store.close();
  });
});
