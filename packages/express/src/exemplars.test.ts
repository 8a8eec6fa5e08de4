import { HTTP_DURATION_BUCKETS } from '@kci-metrics/core';
import { type ExemplarApp, exemplarCases, TRACEPARENT_PATTERN } from '@kci-metrics/test-support/exemplars';
import type { Request, Response } from 'express';
import { describe, expect, it } from 'vitest';
import { type ExpressMetricsOptions, expressMetrics } from './index.js';
import { type ExpressModule, MAJORS } from './majors.test-helper.js';

/** The README's example: the trace id of a W3C traceparent header. */
const fromTraceparent: ExpressMetricsOptions['exemplars'] = (req) => {
  const traceId = TRACEPARENT_PATTERN.exec(req.get('traceparent') ?? '')?.[1];
  return traceId === undefined ? undefined : { trace_id: traceId };
};

/** The route sits in a router mounted at /api, so the template is the mount's prefix plus the route. */
function expressApp(express: ExpressModule, exemplars: unknown): ExemplarApp {
  const app = express();
  const metrics = expressMetrics(
    exemplars === undefined ? {} : { exemplars: exemplars as ExpressMetricsOptions['exemplars'] },
  );
  app.use(metrics);
  const api = express.Router();
  api.get('/tree/:commitHash', (_req: Request, res: Response) => {
    setTimeout(() => res.json({ ok: true }), 20); // a duration past the first bucket
  });
  app.use('/api', api);
  return { handler: app, registry: metrics.registry };
}

describe.each(MAJORS)('expressMetrics exemplars, $name', ({ express }) => {
  exemplarCases({
    app: (exemplars) => expressApp(express, exemplars),
    fromTraceparent,
    buckets: HTTP_DURATION_BUCKETS,
  });
});

describe('expressMetrics exemplars option', () => {
  it('is refused when it is not a function, naming the value', () => {
    expect(() => expressMetrics({ exemplars: true as never })).toThrow(
      'Invalid option exemplars true: expected a function of the request context',
    );
  });
});
