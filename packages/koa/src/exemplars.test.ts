import { HTTP_DURATION_BUCKETS } from '@kci-metrics/core';
import { type ExemplarApp, exemplarCases, TRACEPARENT_PATTERN } from '@kci-metrics/test-support/exemplars';
import Router from '@koa/router';
import Koa from 'koa';
import { describe, expect, it } from 'vitest';
import { type KoaMetricsOptions, koaMetrics } from './index.js';

/** The README's example: the trace id of a W3C traceparent header. */
const fromTraceparent: KoaMetricsOptions['exemplars'] = (ctx) => {
  const traceId = TRACEPARENT_PATTERN.exec(ctx.get('traceparent'))?.[1];
  return traceId === undefined ? undefined : { trace_id: traceId };
};

function app(exemplars: unknown): ExemplarApp {
  const koa = new Koa();
  const metrics = koaMetrics(exemplars === undefined ? {} : { exemplars: exemplars as KoaMetricsOptions['exemplars'] });
  koa.use(metrics);
  const router = new Router();
  router.get('/api/tree/:commitHash', async (ctx) => {
    await new Promise((r) => setTimeout(r, 20)); // a duration past the first bucket
    ctx.body = { ok: true };
  });
  koa.use(router.routes());
  return { handler: koa.callback(), registry: metrics.registry };
}

describe('koaMetrics exemplars', () => {
  exemplarCases({ app, fromTraceparent, buckets: HTTP_DURATION_BUCKETS });

  it('refuse an option that is not a function, naming the value', () => {
    expect(() => koaMetrics({ exemplars: { trace_id: 'x' } as never })).toThrow(
      'Invalid option exemplars {"trace_id":"x"}: expected a function of the request context',
    );
  });
});
