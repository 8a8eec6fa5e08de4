import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { ConfigError } from './errors.js';
import { UNMATCHED_ROUTE } from './labels.js';
import { createHttpRecorder } from './recorder.js';

async function values(registry: Registry, name: string) {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  return (metric?.values ?? []) as { labels: Record<string, string | number>; value: number; metricName?: string }[];
}

describe('createHttpRecorder', () => {
  it('records method, route template and status, and counts requests in flight', async () => {
    const recorder = createHttpRecorder();
    const a = recorder.start('get');
    const b = recorder.start('POST');
    expect((await values(recorder.registry, 'http_server_active_requests')).map((v) => v.value)).toEqual([1, 1]);
    a.end({ route: '/api/tree/:commitHash/full', statusCode: 200, ctx: undefined });
    a.end({ route: '/api/tree/:commitHash/full', statusCode: 200, ctx: undefined }); // idempotent
    b.end({ route: undefined, statusCode: 404, ctx: undefined });
    const counts = (await values(recorder.registry, 'http_request_duration_seconds')).filter((v) =>
      v.metricName?.endsWith('_count'),
    );
    expect(counts.map((v) => [v.labels, v.value])).toEqual([
      [{ method: 'GET', route: '/api/tree/:commitHash/full', status_code: '200' }, 1],
      [{ method: 'POST', route: UNMATCHED_ROUTE, status_code: '404' }, 1],
    ]);
    expect((await values(recorder.registry, 'http_server_active_requests')).map((v) => v.value)).toEqual([0, 0]);
  });

  it('keeps method cardinality bounded and maps bogus statuses to 500', async () => {
    const recorder = createHttpRecorder();
    for (const m of ['FOO', 'BREW', 'get']) recorder.start(m).end({ route: '/x', statusCode: 999, ctx: undefined });
    const counts = (await values(recorder.registry, 'http_request_duration_seconds')).filter((v) =>
      v.metricName?.endsWith('_count'),
    );
    expect(counts.map((v) => [v.labels.method, v.labels.status_code, v.value])).toEqual([
      ['_OTHER', '500', 2],
      ['GET', '500', 1],
    ]);
  });

  it('adds static and per-request custom labels, and survives a throwing label function', async () => {
    const recorder = createHttpRecorder<{ tenant?: string }>({
      customLabels: {
        region: 'eu',
        tenant: (ctx) => ctx.tenant,
        broken: () => {
          throw new Error('boom');
        },
      },
      prefix: 'app_',
    });
    recorder.start('GET').end({ route: '/a', statusCode: 200, ctx: { tenant: 'acme' } });
    const [bucket] = await values(recorder.registry, 'app_http_request_duration_seconds');
    expect(bucket?.labels).toMatchObject({ region: 'eu', tenant: 'acme', broken: '' });
  });

  it('excludes the metrics path always, plus configured paths and prefixes', () => {
    const recorder = createHttpRecorder({ excludePaths: ['/health', /^\/static\//] });
    expect(['/metrics', '/metrics/', '/health', '/health/live', '/static/app.js'].map(recorder.isExcluded)).toEqual([
      true,
      true,
      true,
      true,
      true,
    ]);
    expect(['/healthz', '/api/tree/'].map(recorder.isExcluded)).toEqual([false, false]);
  });

  it('uses an injected registry and never the global one', async () => {
    const registry = new Registry();
    const recorder = createHttpRecorder({ registry, buckets: [0.1, 1] });
    expect(recorder.registry).toBe(registry);
    recorder.start('GET').end({ route: '/a', statusCode: 200, ctx: undefined, responseBytes: 10 });
    const buckets = (await values(registry, 'http_request_duration_seconds')).filter((v) =>
      v.metricName?.endsWith('_bucket'),
    );
    expect(buckets.map((b) => b.labels.le)).toEqual([0.1, 1, '+Inf']);
  });

  it.each([
    [{ prefix: 'bad prefix' }, 'Invalid option prefix "bad prefix"'],
    [{ buckets: [1, 0.5] }, 'Invalid option buckets [1,0.5]'],
    [{ buckets: [] }, 'Invalid option buckets []'],
    [{ customLabels: { route: 'x' } }, 'Invalid option customLabels "route"'],
    [{ customLabels: { 'bad-name': 'x' } }, 'Invalid option customLabels "bad-name"'],
    [{ excludePaths: ['health'] }, 'Invalid option excludePaths "health"'],
    [{ requestSizes: 'yes' }, 'Invalid option requestSizes "yes"'],
    [{ bukets: [1] }, 'Invalid option "bukets"'],
  ])('rejects invalid options at construction: %j', (options, message) => {
    const make = () => createHttpRecorder(options as never);
    expect(make).toThrow(ConfigError);
    expect(make).toThrow(message);
  });
});
