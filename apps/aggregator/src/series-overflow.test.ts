import { Counter } from 'prom-client';
import '@kci-metrics/sqlite-store'; // types maxSeries on prom-client's configurations
import { afterEach, describe, expect, it } from 'vitest';
import { get, type RunningServer, startServer } from './test-support/http.js';
import { openMetricsProblems } from './test-support/openmetrics.js';
import { promtoolCheck, skipPromtool } from './test-support/promtool.js';
import { StoreFixture } from './test-support/store.js';

// Issue 16 §2: the aggregator's own metrics say which metrics reached their series bound, and by how much.

let running: RunningServer | undefined;
let fixture: StoreFixture | undefined;
afterEach(async () => {
  await running?.close();
  fixture?.close();
  running = undefined;
  fixture = undefined;
});

const OPENMETRICS_ACCEPT = 'application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5';

describe('kci_metrics_store_series_overflowed_total', () => {
  it('names each metric that overflowed with the label sets folded, valid for promtool and OpenMetrics', async () => {
    fixture = new StoreFixture();
    const users = new Counter({
      name: 'logins_total',
      help: 'Logins by user (a label that should not be one).',
      labelNames: ['user'],
      registers: [fixture.registry],
      maxSeries: 4,
    });
    running = await startServer({ store: fixture.reader });
    const before = (await get(running.port)).text;
    expect(before).toContain('# TYPE kci_metrics_store_series_overflowed_total counter\n');
    expect(before).not.toContain('kci_metrics_store_series_overflowed_total{');

    for (let i = 0; i < 10; i++) users.inc({ user: `u${i}` });
    fixture.flush();
    const text = (await get(running.port)).text;
    expect(text).toContain('kci_metrics_store_series_overflowed_total{metric="logins_total"} 7\n');
    expect(text).toContain('logins_total{kci_overflow="true"} 7\n');
    expect(text).not.toContain('kci_metrics_store_series_overflowed_total{metric="jobs_total"}');
    if (!skipPromtool) expect(promtoolCheck(text)).toEqual({ status: 0, output: '' });
    const om = (await get(running.port, '/metrics/', { headers: { Accept: OPENMETRICS_ACCEPT } })).text;
    expect(om).toContain('kci_metrics_store_series_overflowed_total{metric="logins_total"} 7\n');
    expect(openMetricsProblems(om)).toEqual([]);
  });
});
