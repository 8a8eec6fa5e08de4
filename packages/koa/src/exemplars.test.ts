import { HTTP_DURATION_BUCKETS } from '@kci-metrics/core';
import { type ExemplarServer, exemplarCases, TRACEPARENT_PATTERN } from '@kci-metrics/test-support/exemplars';
import { listen } from '@kci-metrics/test-support/http';
import Router from '@koa/router';
import Koa from 'koa';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type KoaMetricsOptions, koaMetrics } from './index.js';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
  vi.restoreAllMocks();
});

/** The README's example: the trace id of a W3C traceparent header. */
const fromTraceparent: KoaMetricsOptions['exemplars'] = (ctx) => {
  const traceId = TRACEPARENT_PATTERN.exec(ctx.get('traceparent'))?.[1];
  return traceId === undefined ? undefined : { trace_id: traceId };
};

async function serve(exemplars: unknown): Promise<ExemplarServer> {
  const app = new Koa();
  const metrics = koaMetrics(exemplars === undefined ? {} : { exemplars: exemplars as KoaMetricsOptions['exemplars'] });
  app.use(metrics);
  const router = new Router();
  router.get('/api/tree/:commitHash', async (ctx) => {
    await new Promise((r) => setTimeout(r, 20)); // a duration past the first bucket
    ctx.body = { ok: true };
  });
  app.use(router.routes());
  const { base, close } = await listen(app.callback());
  closers.push(close);
  const get = async (path: string, headers: Record<string, string> = {}) => {
    const res = await fetch(base + path, { headers });
    await res.arrayBuffer();
    return res.status;
  };
  return { registry: metrics.registry as unknown as ExemplarServer['registry'], get };
}

describe('koaMetrics exemplars', () => {
  exemplarCases({ serve, fromTraceparent, buckets: HTTP_DURATION_BUCKETS });

  it('refuse an option that is not a function, naming the value', () => {
    expect(() => koaMetrics({ exemplars: { trace_id: 'x' } as never })).toThrow(
      'Invalid option exemplars {"trace_id":"x"}: expected a function of the request context',
    );
  });
});
