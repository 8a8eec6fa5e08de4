import { Counter, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { ConfigError } from './errors.js';
import { createHttpRecorder } from './recorder.js';

const count = async (registry: Registry, series: string) => {
  const line = (await registry.metrics())
    .split('\n')
    .find((l) => l.startsWith(`http_request_duration_seconds_count{${series}}`));
  return line === undefined ? undefined : Number(line.split(' ').pop());
};

describe('HTTP metrics on a shared registry', () => {
  it('are shared by recorders with the same labels and buckets', async () => {
    const registry = new Registry();
    const a = createHttpRecorder({ registry, customLabels: { app: 'a' } });
    const b = createHttpRecorder({ registry, customLabels: { app: 'b' }, requestSizes: true });
    a.start('GET').end({ route: '/x', statusCode: 200, ctx: undefined });
    b.start('GET').end({ route: '/x', statusCode: 200, ctx: undefined });
    expect(await count(registry, 'method="GET",route="/x",status_code="200",app="a"')).toBe(1);
    expect(await count(registry, 'method="GET",route="/x",status_code="200",app="b"')).toBe(1);
  });

  it('refuse, at construction, a second recorder with other custom labels', () => {
    // Before, the second recorder reused the first one's histogram, and prom-client rejected every
    // observation it made ("Added label is not included in initial labelset"), silently.
    const registry = new Registry();
    createHttpRecorder({ registry });
    const second = () => createHttpRecorder({ registry, customLabels: { tenant: () => 'acme' } });
    expect(second).toThrow(ConfigError);
    expect(second).toThrow(
      'Invalid labels of http_request_duration_seconds ["method","route","status_code","tenant"]: expected ["method","route","status_code"]',
    );
  });

  it('refuse other buckets, naming the metric and both bucket lists', () => {
    const registry = new Registry();
    createHttpRecorder({ registry, prefix: 'app_', buckets: [0.1, 1] });
    const second = () => createHttpRecorder({ registry, prefix: 'app_', buckets: [0.1, 1, 10] });
    expect(second).toThrow(ConfigError);
    expect(second).toThrow('Invalid buckets of app_http_request_duration_seconds [0.1,1,10]: expected [0.1,1]');
    // another prefix is another set of metrics
    expect(() => createHttpRecorder({ registry, prefix: 'other_', buckets: [0.1, 1, 10] })).not.toThrow();
  });

  it('refuse a metric of that name defined as another type', () => {
    const registry = new Registry();
    new Counter({ name: 'http_request_duration_seconds', help: 'mine', registers: [registry] });
    const make = () => createHttpRecorder({ registry });
    expect(make).toThrow(ConfigError);
    expect(make).toThrow('Invalid type of http_request_duration_seconds "counter": expected "histogram"');
  });
});
