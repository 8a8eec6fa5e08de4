import { HTTP_DURATION_BUCKETS } from '@kci-metrics/core';
import { listen, series, settled } from '@kci-metrics/test-support/http';
import type { Request, Response } from 'express';
import { type Histogram, Registry, type RegistryContentType } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type ExpressMetricsOptions, expressMetrics } from './index.js';
import { type ExpressModule, MAJORS } from './majors.test-helper.js';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
  vi.restoreAllMocks();
});

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const TRACEPARENT = `00-${TRACE_ID}-00f067aa0ba902b7-01`;
const PATTERN = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/;
/** The README's example: the trace id of a W3C traceparent header. */
const fromTraceparent: ExpressMetricsOptions['exemplars'] = (req) => {
  const traceId = PATTERN.exec(req.get('traceparent') ?? '')?.[1];
  return traceId === undefined ? undefined : { trace_id: traceId };
};

async function serve(express: ExpressModule, options: ExpressMetricsOptions) {
  const app = express();
  const metrics = expressMetrics(options);
  app.use(metrics);
  const api = express.Router();
  api.get('/tree/:commitHash', (_req: Request, res: Response) => {
    setTimeout(() => res.json({ ok: true }), 20); // a duration past the first bucket
  });
  app.use('/api', api);
  const { base, close } = await listen(app);
  closers.push(close);
  const get = async (path: string, headers: Record<string, string> = {}) => {
    const res = await fetch(base + path, { headers });
    await res.arrayBuffer();
    return res.status;
  };
  return { registry: metrics.registry, get };
}

/** The registry in OpenMetrics, the only format that carries exemplars. */
async function openMetrics(registry: Registry): Promise<string> {
  (registry as Registry<RegistryContentType>).setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  return registry.metrics();
}
const withExemplar = (text: string) =>
  text.split('\n').filter((l) => l.startsWith('http_request_duration_seconds_bucket') && l.includes(' # '));

describe.each(MAJORS)('expressMetrics exemplars, $name', ({ express }) => {
  it('carry the trace id of the traceparent header, in the bucket of the observed duration', async () => {
    const { registry, get } = await serve(express, { exemplars: fromTraceparent });
    expect(await get('/api/tree/abc', { traceparent: TRACEPARENT })).toBe(200);
    await settled(registry);
    const lines = withExemplar(await registry.metrics()); // the registry is OpenMetrics already
    expect(lines).toHaveLength(1);
    const match = /^http_request_duration_seconds_bucket\{le="([^"]+)",(.*)\} 1 # \{trace_id="(\w+)"\} (\S+) \S+$/.exec(
      lines[0] as string,
    );
    expect(match, lines[0]).not.toBeNull();
    const [, le, labels, traceId, value] = match as unknown as string[];
    expect(labels).toBe('method="GET",route="/api/tree/:commitHash",status_code="200"');
    expect(traceId).toBe(TRACE_ID);
    expect(Number(le)).toBe(HTTP_DURATION_BUCKETS.find((b) => Number(value) <= b));
    const [one] = await series(registry);
    expect(one?.sum).toBe(Number(value)); // the exemplar's value is the request's own observation
  });

  it('are absent for requests without a header or with a malformed one; those are still counted', async () => {
    const { registry, get } = await serve(express, { exemplars: fromTraceparent });
    expect(await get('/api/tree/abc')).toBe(200);
    expect(await get('/api/tree/abc', { traceparent: `00-${TRACE_ID}-short-01` })).toBe(200);
    await settled(registry);
    expect(withExemplar(await registry.metrics())).toEqual([]);
    expect((await series(registry))[0]?.count).toBe(2);
  });

  it.each([
    [
      'throws',
      () => {
        throw new Error('no span');
      },
      'threw Error: no span',
    ],
    ['returns labels over 128 characters', () => ({ trace_id: TRACE_ID.repeat(4) }), 'returned labels of 136'],
    ['returns a non-object', () => 7, 'returned 7: expected an object'],
  ])(
    'whose function %s: the request is answered and counted, without exemplar, one warning',
    async (_, fn, message) => {
      const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
      const { registry, get } = await serve(express, {
        exemplars: fn as unknown as ExpressMetricsOptions['exemplars'],
      });
      expect(await get('/api/tree/abc', { traceparent: TRACEPARENT })).toBe(200);
      expect(await get('/api/tree/def', { traceparent: TRACEPARENT })).toBe(200);
      await settled(registry);
      expect(withExemplar(await registry.metrics())).toEqual([]);
      expect((await series(registry))[0]?.count).toBe(2);
      expect(warn).toHaveBeenCalledTimes(1);
      expect(warn.mock.calls[0]?.[0]).toContain(message);
    },
  );

  it('are off without the option: no enableExemplars, the fast path, no exemplar in the output', async () => {
    const { registry, get } = await serve(express, {});
    const histogram = registry.getSingleMetric('http_request_duration_seconds') as Histogram<string> & {
      enableExemplars: boolean;
    };
    expect(histogram.enableExemplars).toBe(false);
    expect(registry.contentType).toBe(Registry.PROMETHEUS_CONTENT_TYPE);
    expect(await get('/api/tree/abc', { traceparent: TRACEPARENT })).toBe(200); // a new series: prom-client
    await settled(registry);
    const observe = vi.spyOn(histogram, 'observe');
    for (let i = 0; i < 3; i++) expect(await get('/api/tree/abc', { traceparent: TRACEPARENT })).toBe(200);
    await settled(registry);
    expect((await series(registry))[0]?.count).toBe(4);
    expect(observe).not.toHaveBeenCalled(); // a known series never goes through prom-client's observe()
    expect(withExemplar(await openMetrics(registry))).toEqual([]);
  });
});

describe('expressMetrics exemplars option', () => {
  it('is refused when it is not a function, naming the value', () => {
    expect(() => expressMetrics({ exemplars: true as never })).toThrow(
      'Invalid option exemplars true: expected a function of the request context',
    );
  });
});
