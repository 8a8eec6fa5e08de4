import { PassThrough } from 'node:stream';
import { UNMATCHED_ROUTE } from '@kci-metrics/core';
import { abortBeforeResponse, abortMidBody, active, listen, series, settled } from '@kci-metrics/test-support/http';
import Router from '@koa/router';
import Koa from 'koa';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { type KoaMetricsOptions, koaMetrics } from './index.js';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

/** A Koa app with koaMetrics installed first, served on a real port. */
async function serve(options: KoaMetricsOptions, setup: (app: Koa) => void) {
  const app = new Koa();
  app.silent = true; // thrown errors are expected here; keep the test output clean
  const metrics = koaMetrics(options);
  app.use(metrics);
  setup(app);
  const { base, close } = await listen(app.callback());
  closers.push(close);
  const get = async (path: string, init?: RequestInit) => {
    const res = await fetch(base + path, init);
    await res.arrayBuffer();
    return res.status;
  };
  return { base, registry: metrics.registry, get };
}

const routeOf = (s: { labels: Record<string, unknown> }) =>
  `${s.labels.method} ${s.labels.route} ${s.labels.status_code}`;

describe('koaMetrics route label', () => {
  it('is the template with router prefixes and nested routers, never the raw URL', async () => {
    const { registry, get } = await serve({}, (app) => {
      const api = new Router({ prefix: '/api' });
      api.get('/tree/:commitHash/full', (ctx) => (ctx.body = { ok: true }));
      const posts = new Router();
      posts.get('/', (ctx) => (ctx.body = []));
      posts.get('/:postId', (ctx) => (ctx.body = { id: ctx.params.postId }));
      const comments = new Router();
      comments.get('/:commentId', (ctx) => (ctx.body = 'c'));
      posts.use('/:postId/comments', comments.routes());
      api.use('/users/:userId/posts', posts.routes());
      app.use(api.routes());
    });
    expect(await get('/api/tree/abc123/full')).toBe(200);
    expect(await get('/api/tree/def456/full')).toBe(200);
    expect(await get('/api/users/7/posts')).toBe(200);
    expect(await get('/api/users/7/posts/42')).toBe(200);
    expect(await get('/api/users/8/posts/43/comments/9')).toBe(200);
    await settled(registry);
    expect((await series(registry)).map((s) => [routeOf(s), s.count])).toEqual([
      ['GET /api/tree/:commitHash/full 200', 2],
      ['GET /api/users/:userId/posts 200', 1],
      ['GET /api/users/:userId/posts/:postId 200', 1],
      ['GET /api/users/:userId/posts/:postId/comments/:commentId 200', 1],
    ]);
  });

  it(`gives every request that matched no route the one value ${UNMATCHED_ROUTE}`, async () => {
    const { registry, get } = await serve({}, (app) => {
      const router = new Router();
      router.get('/known', (ctx) => (ctx.body = 'ok'));
      app.use(router.routes());
    });
    for (const path of ['/wp-admin.php', '/.env', '/known/extra', '/a/b/c?x=1']) expect(await get(path)).toBe(404);
    await settled(registry);
    expect((await series(registry)).map((s) => [routeOf(s), s.count])).toEqual([[`GET ${UNMATCHED_ROUTE} 404`, 4]]);
  });

  it('keeps the template of a route whose handler answers 404 itself', async () => {
    const { registry, get } = await serve({}, (app) => {
      const router = new Router();
      router.get('/builds/:id', (ctx) => (ctx.status = 404));
      app.use(router.routes());
    });
    expect(await get('/builds/missing')).toBe(404);
    await settled(registry);
    expect((await series(registry)).map(routeOf)).toEqual(['GET /builds/:id 404']);
  });

  it('labels HEAD requests served by a GET route with the route template', async () => {
    const { registry, get } = await serve({}, (app) => {
      const router = new Router();
      router.get('/tree/:id', (ctx) => (ctx.body = 'x'));
      app.use(router.routes());
    });
    expect(await get('/tree/1', { method: 'HEAD' })).toBe(200);
    await settled(registry);
    expect((await series(registry)).map(routeOf)).toEqual(['HEAD /tree/:id 200']);
  });
});

describe('koaMetrics status', () => {
  it("records the status of Koa's error response for thrown errors", async () => {
    const { registry, get } = await serve({}, (app) => {
      const router = new Router();
      router.get('/crash', () => {
        throw new Error('bug');
      });
      router.get('/teapot', () => {
        throw Object.assign(new Error('short and stout'), { status: 418 });
      });
      router.get('/bad', (ctx) => ctx.throw(400, 'bad input'));
      router.get('/async', async () => {
        await new Promise((r) => setTimeout(r, 5));
        throw Object.assign(new Error('upstream'), { statusCode: 503 });
      });
      app.use(router.routes());
    });
    expect([await get('/crash'), await get('/teapot'), await get('/bad'), await get('/async')]).toEqual([
      500, 418, 400, 503,
    ]);
    await settled(registry);
    expect((await series(registry)).map(routeOf)).toEqual([
      'GET /async 503',
      'GET /bad 400',
      'GET /crash 500',
      'GET /teapot 418',
    ]);
  });

  it('records what an error-handling middleware answered', async () => {
    const { registry, get } = await serve({}, (app) => {
      app.use(async (ctx, next) => {
        try {
          await next();
        } catch {
          ctx.status = 502;
          ctx.body = { error: 'upstream failed' };
        }
      });
      const router = new Router();
      router.get('/proxy', () => {
        throw new Error('ECONNREFUSED');
      });
      app.use(router.routes());
    });
    expect(await get('/proxy')).toBe(502);
    await settled(registry);
    expect((await series(registry)).map(routeOf)).toEqual(['GET /proxy 502']);
  });

  it('records 499 when the client hangs up before the response is sent', async () => {
    let arrived!: () => void;
    const started = new Promise<void>((r) => (arrived = r));
    const { base, registry } = await serve({}, (app) => {
      const router = new Router();
      router.get('/slow/:id', async (ctx) => {
        arrived();
        await new Promise((r) => setTimeout(r, 200));
        ctx.body = 'too late';
      });
      app.use(router.routes());
    });
    await abortBeforeResponse(`${base}/slow/1`, started);
    await settled(registry);
    expect((await series(registry)).map(routeOf)).toEqual(['GET /slow/:id 499']);
  });

  it('records 499 when the client hangs up in the middle of a streamed body', async () => {
    const { base, registry } = await serve({}, (app) => {
      const router = new Router();
      router.get('/logs/:id', (ctx) => {
        const body = new PassThrough();
        body.write('first line\n'); // then nothing more: only the client can end this exchange
        ctx.body = body;
      });
      app.use(router.routes());
    });
    await abortMidBody(`${base}/logs/9`);
    await settled(registry);
    expect((await series(registry)).map(routeOf)).toEqual(['GET /logs/:id 499']);
  });
});

describe('koaMetrics streamed bodies', () => {
  it('times the whole stream and counts the bytes it actually sent', async () => {
    let finish!: () => void;
    const { base, registry } = await serve({ responseSizes: true }, (app) => {
      const router = new Router();
      router.get('/export', (ctx) => {
        const body = new PassThrough();
        body.write('a'.repeat(1000));
        finish = () => body.end('b'.repeat(500));
        ctx.body = body; // the handler returns now; the body is still being sent
      });
      app.use(router.routes());
    });
    const res = await fetch(`${base}/export`);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    await reader.read(); // the first chunk is here, the response is not over
    expect(await active(registry)).toBe(1);
    expect(await series(registry)).toEqual([]);
    // Held open for 300 ms by the test itself, so a duration that covers the stream is at least that.
    await new Promise((r) => setTimeout(r, 300));
    finish();
    while (!(await reader.read()).done);
    await settled(registry);
    const [duration, ...others] = await series(registry);
    expect(others).toEqual([]);
    expect(duration?.count).toBe(1);
    expect(duration?.sum).toBeGreaterThanOrEqual(0.3);
    expect((await series(registry, 'http_response_size_bytes')).map((s) => [routeOf(s), s.sum])).toEqual([
      ['GET /export 200', 1500],
    ]);
  });
});

describe('koaMetrics options', () => {
  it('never records excluded paths, and never the metrics path', async () => {
    const { registry, get } = await serve({ excludePaths: ['/health', /^\/static\//] }, (app) =>
      app.use((ctx) => (ctx.body = 'ok')),
    );
    for (const path of ['/health', '/health/live', '/static/app.js', '/metrics', '/metrics/', '/api']) await get(path);
    await settled(registry);
    expect((await series(registry)).map((s) => [routeOf(s), s.count])).toEqual([[`GET ${UNMATCHED_ROUTE} 200`, 1]]);
  });

  it('adds static and per-request custom labels, computed from ctx once the response is over', async () => {
    const { registry, get } = await serve(
      {
        customLabels: {
          service: 'dashboard',
          tenant: (ctx) => ctx.state.tenant as string | undefined,
          broken: () => {
            throw new Error('label bug');
          },
        },
      },
      (app) => {
        const router = new Router();
        router.get('/t/:tenant', (ctx) => {
          ctx.state.tenant = ctx.params.tenant;
          ctx.body = 'ok';
        });
        app.use(router.routes());
      },
    );
    expect(await get('/t/kernelci')).toBe(200);
    expect(await get('/nowhere')).toBe(404);
    await settled(registry);
    expect((await series(registry)).map((s) => s.labels)).toEqual([
      { method: 'GET', route: '/t/:tenant', status_code: '200', service: 'dashboard', tenant: 'kernelci', broken: '' },
      { method: 'GET', route: UNMATCHED_ROUTE, status_code: '404', service: 'dashboard', tenant: '', broken: '' },
    ]);
  });

  it('records request body sizes and prefixed metric names, in the registry it was given', async () => {
    const registry = new Registry();
    const metrics = koaMetrics({ registry, prefix: 'kci_', buckets: [0.1, 1], requestSizes: true });
    expect(metrics.registry).toBe(registry);
    const app = new Koa();
    app.use(metrics);
    app.use(async (ctx) => {
      for await (const _ of ctx.req); // read the upload
      ctx.status = 201;
    });
    const { base, close } = await listen(app.callback());
    closers.push(close);
    const res = await fetch(`${base}/upload`, { method: 'POST', body: 'x'.repeat(2048) });
    expect(res.status).toBe(201);
    await settled(registry, 'kci_');
    expect((await series(registry, 'kci_http_request_size_bytes')).map((s) => s.sum)).toEqual([2048]);
    const text = await registry.metrics();
    expect(text).toContain(
      'kci_http_request_duration_seconds_bucket{le="1",method="POST",route="<unmatched>",status_code="201"} 1',
    );
    expect(text).not.toContain('http_response_size_bytes'); // off unless asked for
  });
});
