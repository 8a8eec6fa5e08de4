import { stat } from 'node:fs/promises';
import { PassThrough } from 'node:stream';
import { UNMATCHED_ROUTE } from '@kci-metrics/core';
import { abortBeforeResponse, abortMidBody, active, listen, series, settled } from '@kci-metrics/test-support/http';
import type { NextFunction, Request, Response } from 'express';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { type ExpressMetricsOptions, expressMetrics } from './index.js';
import { type ExpressModule, MAJORS } from './majors.test-helper.js';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

type Express = ReturnType<ExpressModule>;

/** An Express app with expressMetrics installed first, served on a real port. */
async function serve(express: ExpressModule, options: ExpressMetricsOptions, setup: (app: Express) => void) {
  const app = express();
  app.set('env', 'test'); // the final handler stays quiet about the errors these tests throw on purpose
  const metrics = expressMetrics(options);
  app.use(metrics);
  setup(app);
  const { base, close } = await listen(app);
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
const ok = (_req: Request, res: Response) => void res.send('ok');
const res = (req: Request): Response => req.res as Response;

describe.each(MAJORS)('expressMetrics, $name', ({ express, major }) => {
  describe('route label', () => {
    it('is the template with the mount paths of nested routers, parameterised mounts included', async () => {
      const { registry, get } = await serve(express, {}, (app) => {
        const api = express.Router();
        api.get('/tree/:commitHash/full', ok);
        const posts = express.Router();
        posts.get('/', ok);
        posts.get('/:postId', ok);
        const comments = express.Router();
        comments.get('/:commentId', ok);
        posts.use('/:postId/comments', comments);
        api.use('/users/:userId/posts', posts);
        app.use('/api', api);
      });
      for (const user of ['1', '2', '3']) expect(await get(`/api/users/${user}/posts/${user}0`)).toBe(200);
      expect(await get('/api/users/4/posts')).toBe(200);
      expect(await get('/api/users/5/posts/6/comments/7')).toBe(200);
      expect(await get('/api/tree/abc/full')).toBe(200);
      await settled(registry);
      expect((await series(registry)).map((s) => [routeOf(s), s.count])).toEqual([
        ['GET /api/tree/:commitHash/full 200', 1],
        ['GET /api/users/:userId/posts 200', 1],
        ['GET /api/users/:userId/posts/:postId 200', 3],
        ['GET /api/users/:userId/posts/:postId/comments/:commentId 200', 1],
      ]);
    });

    it('uses the mount path that matched when one router is mounted at several, and sub-application mounts', async () => {
      const { registry, get } = await serve(express, {}, (app) => {
        const builds = express.Router();
        builds.get('/:id', ok);
        app.use(['/v1/builds', '/v2/builds'], builds);
        const tests = express.Router();
        tests.get('/:id', ok);
        app.use('/old/tests', tests);
        app.use('/new/tests', tests);
        const admin = express(); // a sub-application
        admin.get('/users/:id', ok);
        app.use('/admin', admin);
      });
      await get('/v1/builds/1');
      await get('/v2/builds/2');
      await get('/new/tests/3');
      await get('/admin/users/4');
      await settled(registry);
      expect((await series(registry)).map(routeOf)).toEqual([
        'GET /admin/users/:id 200',
        'GET /new/tests/:id 200',
        'GET /v1/builds/:id 200',
        'GET /v2/builds/:id 200',
      ]);
    });

    it('labels routes of sub-applications mounted at parameterised paths by their mountpath, wherever the middleware is', async () => {
      const inner = express();
      inner.get('/jobs/:jobId', ok);
      const tenant = express();
      tenant.get('/users/:id', ok);
      tenant.use('/queues/:queue', inner); // a sub-application of a sub-application
      const { registry, get } = await serve(express, {}, (app) => app.use('/t/:tenant', tenant));
      // The same middleware kind, installed inside a sub-application only: its requests carry the mount path too.
      const own = express();
      const ownMetrics = expressMetrics();
      own.use(ownMetrics);
      own.get('/reports/:day', ok);
      const outer = express();
      outer.use('/org/:org', own);
      const served = await listen(outer);
      closers.push(served.close);
      for (const path of ['/t/acme/users/1', '/t/umbrella/users/2', '/t/acme/queues/q1/jobs/3']) await get(path);
      for (const day of ['mon', 'tue']) await (await fetch(`${served.base}/org/o${day}/reports/${day}`)).text();
      await settled(registry);
      await settled(ownMetrics.registry);
      expect((await series(registry)).map((s) => [routeOf(s), s.count])).toEqual([
        ['GET /t/:tenant/queues/:queue/jobs/:jobId 200', 1],
        ['GET /t/:tenant/users/:id 200', 2],
      ]);
      expect((await series(ownMetrics.registry)).map((s) => [routeOf(s), s.count])).toEqual([
        ['GET /org/:org/reports/:day 200', 2],
      ]);
    });

    it('labels app.route() routes and routes behind router.param by their templates', async () => {
      const { registry, get } = await serve(express, {}, (app) => {
        const users = express.Router();
        users.param('userId', (req, _res, next, id) => {
          if (id === 'nobody') return next(Object.assign(new Error('no such user'), { status: 404 }));
          res(req).locals.user = id;
          next();
        });
        users.route('/:userId').get(ok).put(ok);
        users.get('/:userId/avatar', ok);
        app.use('/orgs/:org/users', users);
        app.route('/builds/:id').get(ok).delete(ok);
      });
      expect(await get('/orgs/o1/users/u1')).toBe(200);
      expect(await get('/orgs/o2/users/u2', { method: 'PUT' })).toBe(200);
      expect(await get('/orgs/o3/users/u3/avatar')).toBe(200);
      expect(await get('/orgs/o4/users/nobody')).toBe(404); // refused by the param callback
      expect(await get('/builds/7', { method: 'DELETE' })).toBe(200);
      await settled(registry);
      expect((await series(registry)).map((s) => [routeOf(s), s.count])).toEqual([
        ['DELETE /builds/:id 200', 1],
        ['GET /orgs/:org/users/:userId 200', 1],
        // Express matches the route before it runs the param callbacks: a refusal there keeps the route.
        ['GET /orgs/:org/users/:userId 404', 1],
        ['GET /orgs/:org/users/:userId/avatar 200', 1],
        ['PUT /orgs/:org/users/:userId 200', 1],
      ]);
    });

    it('labels by the full template when the middleware itself is mounted under a path', async () => {
      const app = express();
      const metrics = expressMetrics();
      app.use('/api', metrics); // its mount path is not the application's: no `/api/api/...`
      const users = express.Router();
      users.get('/:id', ok);
      app.use('/api/users', users);
      app.get('/api/tree/:commitHash', ok);
      app.get('/home', ok); // not under /api: the middleware never sees it
      const { base, close } = await listen(app);
      closers.push(close);
      for (const path of ['/api/users/1', '/api/users/2', '/api/tree/abc', '/home'])
        await (await fetch(base + path)).text();
      await settled(metrics.registry);
      expect((await series(metrics.registry)).map((s) => [routeOf(s), s.count])).toEqual([
        ['GET /api/tree/:commitHash 200', 1],
        ['GET /api/users/:id 200', 2],
      ]);
    });

    it('labels app.all, wildcard and RegExp routes by their pattern, never the URL', async () => {
      const { registry, get } = await serve(express, {}, (app) => {
        app.all('/any', ok);
        app.get(/^\/rx\/\d+$/, ok);
        app.get(major === 5 ? '/files/{*path}' : '/files/*', ok); // Express 5's wildcard syntax, and Express 4's
      });
      await get('/any', { method: 'DELETE' });
      await get('/rx/12');
      await get('/rx/34');
      await get('/files/a/b/c.txt');
      await get('/files/d.txt');
      await settled(registry);
      expect((await series(registry)).map((s) => [routeOf(s), s.count])).toEqual([
        ['DELETE /any 200', 1],
        ['GET /^\\/rx\\/\\d+$/ 200', 2],
        [`GET ${major === 5 ? '/files/{*path}' : '/files/*'} 200`, 2],
      ]);
    });

    it('labels routers mounted with a RegExp by that RegExp, and array routes by their paths', async () => {
      const { registry, get } = await serve(express, {}, (app) => {
        const versioned = express.Router();
        versioned.get('/:id', ok);
        app.use(/^\/v\d+/, versioned);
        app.get(['/a/:x', '/b/:x'], ok);
      });
      for (const path of ['/v1/7', '/v2/8', '/a/1', '/b/2']) expect(await get(path)).toBe(200);
      await settled(registry);
      expect((await series(registry)).map((s) => [routeOf(s), s.count])).toEqual([
        ['GET /^\\/v\\d+/:id 200', 2],
        ['GET /a/:x,/b/:x 200', 2],
      ]);
    });

    it(`gives every request that no route handled the one value ${UNMATCHED_ROUTE}`, async () => {
      const { registry, get } = await serve(express, {}, (app) => {
        const api = express.Router();
        api.get('/known', ok);
        app.use('/api', api);
        app.use((_req, res) => void res.status(404).json({ error: 'no such page' })); // a catch-all is not a route
      });
      for (const path of ['/wp-admin.php', '/.env', '/api/known/extra', '/api', '/a/b?c=d'])
        expect(await get(path)).toBe(404);
      await get('/api/known', { method: 'PUT' });
      await settled(registry);
      expect((await series(registry)).map((s) => [routeOf(s), s.count])).toEqual([
        [`GET ${UNMATCHED_ROUTE} 404`, 5],
        [`PUT ${UNMATCHED_ROUTE} 404`, 1],
      ]);
    });
  });

  describe('status', () => {
    it("records the status Express's final handler sent for thrown and passed errors", async () => {
      const { registry, get } = await serve(express, {}, (app) => {
        const api = express.Router();
        api.get('/crash', () => {
          throw new Error('bug');
        });
        api.get('/teapot', (_req, _res, next) => next(Object.assign(new Error('short and stout'), { status: 418 })));
        // Express 5 passes a rejected promise on to the error handlers; Express 4 needs next(err).
        api.get('/async/:id', async (_req, _res, next) => {
          await new Promise((r) => setTimeout(r, 5));
          const error = Object.assign(new Error('upstream'), { statusCode: 503 });
          if (major === 4) return next(error);
          throw error;
        });
        app.use('/api/:version', api);
      });
      expect([await get('/api/1/crash'), await get('/api/1/teapot'), await get('/api/2/async/7')]).toEqual([
        500, 418, 503,
      ]);
      await settled(registry);
      // The error left the sub-router (which restores req.baseUrl) before the answer: the template survives.
      expect((await series(registry)).map(routeOf)).toEqual([
        'GET /api/:version/async/:id 503',
        'GET /api/:version/crash 500',
        'GET /api/:version/teapot 418',
      ]);
    });

    it('records what error-handling middleware answered', async () => {
      const { registry, get } = await serve(express, {}, (app) => {
        app.get('/proxy/:host', () => {
          throw new Error('ECONNREFUSED');
        });
        app.use(
          (_err: Error, _req: Request, res: Response, _next: NextFunction) =>
            void res.status(502).json({ error: 'upstream' }),
        );
      });
      expect(await get('/proxy/db')).toBe(502);
      await settled(registry);
      expect((await series(registry)).map(routeOf)).toEqual(['GET /proxy/:host 502']);
    });

    it('records 499 when the client hangs up before the response is sent', async () => {
      let arrived!: () => void;
      const started = new Promise<void>((r) => (arrived = r));
      const { base, registry } = await serve(express, {}, (app) => {
        app.get('/slow/:id', async (_req, res) => {
          arrived();
          await new Promise((r) => setTimeout(r, 200));
          res.send('too late');
        });
      });
      await abortBeforeResponse(`${base}/slow/1`, started);
      await settled(registry);
      expect((await series(registry)).map(routeOf)).toEqual(['GET /slow/:id 499']);
    });

    it('records 499 when the client hangs up in the middle of a streamed body', async () => {
      const { base, registry } = await serve(express, {}, (app) => {
        app.get('/logs/:id', (_req, res) => {
          const body = new PassThrough();
          body.write('first line\n'); // then nothing more: only the client can end this exchange
          body.pipe(res);
        });
      });
      await abortMidBody(`${base}/logs/9`);
      await settled(registry);
      expect((await series(registry)).map(routeOf)).toEqual(['GET /logs/:id 499']);
    });
  });

  describe('streamed bodies', () => {
    it('times the whole stream and counts the bytes it actually sent', async () => {
      let finish!: () => void;
      const { base, registry } = await serve(express, { responseSizes: true }, (app) => {
        app.get('/export', (_req, res) => {
          res.write('a'.repeat(1000));
          finish = () => res.end('b'.repeat(500)); // the handler returns now; the body is still being sent
        });
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

    it('counts the bytes of a file sent with res.sendFile', async () => {
      const { registry, get } = await serve(express, { responseSizes: true }, (app) => {
        app.get('/pkg', (_req, res) => res.sendFile(new URL('../package.json', import.meta.url).pathname));
      });
      expect(await get('/pkg')).toBe(200);
      await settled(registry);
      const { size } = await stat(new URL('../package.json', import.meta.url));
      expect((await series(registry, 'http_response_size_bytes')).map((s) => s.sum)).toEqual([size]);
    });
  });

  describe('options', () => {
    it('never records excluded paths, and never the metrics path, even when mounted under a path', async () => {
      const { registry, get } = await serve(
        express,
        { excludePaths: (path) => path.endsWith('.js') || path === '/health' },
        (app) => {
          app.use((_req, res) => void res.send('ok'));
        },
      );
      for (const path of ['/health', '/static/app.js?v=2', '/metrics', '/metrics/', '/api']) await get(path);
      await settled(registry);
      expect((await series(registry)).map((s) => [routeOf(s), s.count])).toEqual([[`GET ${UNMATCHED_ROUTE} 200`, 1]]);
    });

    it('adds static and per-request custom labels, computed from req once the response is over', async () => {
      const { registry, get } = await serve(
        express,
        {
          customLabels: {
            service: 'dashboard',
            tenant: (req) => req.res?.locals.tenant as string | undefined,
            broken: () => {
              throw new Error('label bug');
            },
          },
        },
        (app) => {
          app.get('/t/:tenant', (req, res) => {
            res.locals.tenant = req.params.tenant;
            res.send('ok');
          });
        },
      );
      expect(await get('/t/kernelci')).toBe(200);
      expect(await get('/nowhere')).toBe(404);
      await settled(registry);
      expect((await series(registry)).map((s) => s.labels)).toEqual([
        {
          method: 'GET',
          route: '/t/:tenant',
          status_code: '200',
          service: 'dashboard',
          tenant: 'kernelci',
          broken: '',
        },
        { method: 'GET', route: UNMATCHED_ROUTE, status_code: '404', service: 'dashboard', tenant: '', broken: '' },
      ]);
    });

    it('records request body sizes and prefixed metric names, in the registry it was given', async () => {
      const registry = new Registry();
      const metrics = expressMetrics({ registry, prefix: 'kci_', buckets: [0.1, 1], requestSizes: true });
      expect(metrics.registry).toBe(registry);
      const app = express();
      app.use(metrics);
      app.post('/upload', express.text(), (_req, res) => void res.status(201).end());
      const { base, close } = await listen(app);
      closers.push(close);
      const res = await fetch(`${base}/upload`, {
        method: 'POST',
        body: 'x'.repeat(2048),
        headers: { 'content-type': 'text/plain' },
      });
      expect(res.status).toBe(201);
      await settled(registry, 'kci_');
      expect((await series(registry, 'kci_http_request_size_bytes')).map((s) => s.sum)).toEqual([2048]);
      const text = await registry.metrics();
      expect(text).toContain(
        'kci_http_request_duration_seconds_bucket{le="1",method="POST",route="/upload",status_code="201"} 1',
      );
      expect(text).not.toContain('http_response_size_bytes'); // off unless asked for
    });
  });
});
