/**
 * The same traffic against a Koa app and an Express app that serve the same API must produce the same
 * series (issue #4): a dashboard must not change when a service moves from one framework to the other.
 * Both factories also keep the same promises before any request (registry, name, option checks).
 */
import { Readable } from 'node:stream';
import { UNMATCHED_ROUTE } from '@kci-metrics/core';
import { koaMetrics } from '@kci-metrics/koa';
import {
  abortBeforeResponse,
  abortMidBody,
  listen,
  type Series,
  series,
  settled,
} from '@kci-metrics/test-support/http';
import Router from '@koa/router';
import Koa from 'koa';
import { register as globalRegistry, type Registry } from 'prom-client';
import { beforeAll, describe, expect, it } from 'vitest';
import { expressMetrics } from './index.js';
import { type ExpressModule, MAJORS } from './majors.test-helper.js';

const options = {
  excludePaths: ['/health'],
  requestSizes: true,
  responseSizes: true,
};
const STREAM = ['{"lines":[', '"boot ok",', '"test 1 passed",', '"test 2 passed"', ']}'];
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** A body sent over ~100 ms, long enough for a client to hang up after the first chunk. */
async function* streamed() {
  for (const [i, chunk] of STREAM.entries()) {
    if (i > 0) await pause(25);
    yield chunk;
  }
}

/** Resolves when the next request reaches a `/slow` handler, so a client can hang up mid-request. */
let arrived: () => void = () => {};
const nextArrival = () => new Promise<void>((r) => (arrived = r));

function koaApp() {
  const metrics = koaMetrics({ ...options, customLabels: { service: 'api', client: (ctx) => ctx.get('x-client') } });
  const app = new Koa();
  app.silent = true;
  app.use(metrics);
  const api = new Router({ prefix: '/api' });
  api.get('/tree/:commitHash/full', (ctx) => (ctx.body = { commit: ctx.params.commitHash }));
  const posts = new Router();
  posts.get('/', (ctx) => (ctx.body = []));
  posts.get('/:postId', (ctx) => (ctx.body = { id: ctx.params.postId }));
  const comments = new Router();
  comments.get('/:commentId', (ctx) => (ctx.body = { comment: ctx.params.commentId }));
  posts.use('/:postId/comments', comments.routes());
  api.use('/users/:userId/posts', posts.routes());
  api.post('/builds', async (ctx) => {
    let raw = '';
    for await (const chunk of ctx.req) raw += chunk;
    ctx.status = 201;
    ctx.body = JSON.parse(raw);
  });
  api.get('/crash', () => {
    throw new Error('bug');
  });
  api.get('/teapot', () => {
    throw Object.assign(new Error('short and stout'), { status: 418 });
  });
  api.get('/missing/:id', (ctx) => {
    ctx.status = 404;
    ctx.body = { error: 'not found' };
  });
  api.get('/stream/:id', (ctx) => {
    ctx.type = 'application/json';
    ctx.body = Readable.from(streamed());
  });
  api.get('/slow/:id', async (ctx) => {
    arrived();
    await pause(100);
    ctx.body = { late: true };
  });
  app.use(api.routes());
  app.use(async (ctx, next) => {
    if (ctx.path !== '/health') return next();
    ctx.body = 'ok';
  });
  return { handler: app.callback(), registry: metrics.registry };
}

function expressApp(express: ExpressModule) {
  const metrics = expressMetrics({
    ...options,
    customLabels: { service: 'api', client: (req) => req.get('x-client') },
  });
  const app = express();
  app.use(metrics);
  const api = express.Router();
  api.get('/tree/:commitHash/full', (req, res) => res.json({ commit: req.params.commitHash }));
  const posts = express.Router();
  posts.get('/', (_req, res) => res.json([]));
  posts.get('/:postId', (req, res) => res.json({ id: req.params.postId }));
  const comments = express.Router();
  comments.get('/:commentId', (req, res) => res.json({ comment: req.params.commentId }));
  posts.use('/:postId/comments', comments);
  api.use('/users/:userId/posts', posts);
  api.post('/builds', express.json(), (req, res) => res.status(201).json(req.body));
  api.get('/crash', () => {
    throw new Error('bug');
  });
  api.get('/teapot', () => {
    throw Object.assign(new Error('short and stout'), { status: 418 });
  });
  api.get('/missing/:id', (_req, res) => res.status(404).json({ error: 'not found' }));
  api.get('/stream/:id', (_req, res) => {
    res.type('application/json');
    Readable.from(streamed()).pipe(res);
  });
  api.get('/slow/:id', async (_req, res) => {
    arrived();
    await pause(100);
    res.json({ late: true });
  });
  app.use('/api', api);
  app.get('/health', (_req, res) => res.send('ok'));
  return { handler: app, registry: metrics.registry };
}

/** One fixed sequence of requests: successes, params, nesting, errors, 404s, exclusions, streams, hang-ups. */
async function traffic(base: string): Promise<void> {
  const send = async (path: string, init: RequestInit = {}) => {
    const res = await fetch(base + path, init);
    await res.arrayBuffer();
    return res.status;
  };
  const statuses: number[] = [];
  for (const hash of ['a1', 'b2', 'c3']) statuses.push(await send(`/api/tree/${hash}/full`));
  statuses.push(await send('/api/tree/a1/full/')); // trailing slash, same route
  statuses.push(await send('/api/tree/a1/full', { method: 'HEAD' }));
  statuses.push(await send('/api/tree/a1/full', { method: 'POST' })); // no such method: unmatched
  statuses.push(await send('/api/users/7/posts', { headers: { 'x-client': 'cli' } }));
  statuses.push(await send('/api/users/7/posts/42', { headers: { 'x-client': 'cli' } }));
  statuses.push(await send('/api/users/8/posts/43'));
  statuses.push(await send('/api/users/a%20b/posts/9/comments/1'));
  const body = JSON.stringify({ tree: 'mainline', arch: 'arm64' });
  statuses.push(await send('/api/builds', { method: 'POST', body, headers: { 'content-type': 'application/json' } }));
  statuses.push(await send('/api/crash'), await send('/api/teapot'), await send('/api/missing/x'));
  for (const path of ['/wp-login.php', '/.git/config', '/api', '/api/tree']) statuses.push(await send(path));
  statuses.push(await send('/health'), await send('/metrics'));
  statuses.push(await send('/api/stream/1'), await send('/api/stream/2'));
  expect(statuses).toEqual([
    200, 200, 200, 200, 200, 404, 200, 200, 200, 200, 201, 500, 418, 404, 404, 404, 404, 404, 200, 404, 200, 200,
  ]);
  await abortBeforeResponse(`${base}/api/slow/1`, nextArrival());
  await abortMidBody(`${base}/api/stream/3`);
}

const withoutSums = (all: Series[]) => all.map(({ labels, count }) => ({ labels, count }));

describe('Koa and Express adapters, same traffic', () => {
  const registries = new Map<string, Registry>();
  const at = (name: string): Registry => {
    const registry = registries.get(name);
    if (registry === undefined) throw new Error(`no traffic was sent to ${name}`);
    return registry;
  };

  beforeAll(async () => {
    for (const [name, app] of [
      ['koa', koaApp()],
      ...MAJORS.map(({ name, express }) => [name, expressApp(express)] as const),
    ] as const) {
      const { base, close } = await listen(app.handler);
      await traffic(base);
      await settled(app.registry);
      await close();
      registries.set(name, app.registry);
    }
  });

  it.each(MAJORS)('produce identical duration series: same label sets, same counts ($name)', async ({ name }) => {
    const koa = withoutSums(await series(at('koa')));
    const exp = withoutSums(await series(at(name)));
    expect(exp).toEqual(koa);
    // And those series are the right ones, not merely the same ones.
    expect(koa.map(({ labels: l, count }) => `${l.method} ${l.route} ${l.status_code} ${l.client} ${count}`)).toEqual([
      'GET /api/crash 500  1',
      'GET /api/missing/:id 404  1',
      'GET /api/slow/:id 499  1',
      'GET /api/stream/:id 200  2',
      'GET /api/stream/:id 499  1',
      'GET /api/teapot 418  1',
      'GET /api/tree/:commitHash/full 200  4',
      'GET /api/users/:userId/posts 200 cli 1',
      'GET /api/users/:userId/posts/:postId 200  1',
      'GET /api/users/:userId/posts/:postId 200 cli 1',
      'GET /api/users/:userId/posts/:postId/comments/:commentId 200  1',
      'GET <unmatched> 404  4',
      'HEAD /api/tree/:commitHash/full 200  1',
      'POST /api/builds 201  1',
      'POST <unmatched> 404  1',
    ]);
    expect(koa.every((s) => s.labels.service === 'api')).toBe(true);
  });

  it.each(MAJORS)(
    'produce identical request and response size series, with the same byte totals for the same bodies ($name)',
    async ({ name: major }) => {
      for (const name of ['http_request_size_bytes', 'http_response_size_bytes']) {
        expect(withoutSums(await series(at(major), name))).toEqual(withoutSums(await series(at('koa'), name)));
      }
      const requests = await Promise.all([
        series(at('koa'), 'http_request_size_bytes'),
        series(at(major), 'http_request_size_bytes'),
      ]);
      expect(requests[1].map((s) => s.sum)).toEqual(requests[0].map((s) => s.sum));
      // Error and 404 pages are each framework's own text, and how much of a body left before a hang-up depends on
      // timing; every other body is the app's, and byte-identical.
      const ownBodies = (all: Series[]) =>
        all.filter(
          (s) => !['418', '499', '500'].includes(String(s.labels.status_code)) && s.labels.route !== UNMATCHED_ROUTE,
        );
      const responses = await Promise.all([
        series(at('koa'), 'http_response_size_bytes'),
        series(at(major), 'http_response_size_bytes'),
      ]);
      expect(ownBodies(responses[1]).map((s) => s.sum)).toEqual(ownBodies(responses[0]).map((s) => s.sum));
      expect(ownBodies(responses[0]).length).toBe(9);
      const stream = responses[0].find((s) => s.labels.route === '/api/stream/:id' && s.labels.status_code === '200');
      expect(stream?.sum).toBe(2 * STREAM.join('').length);
      const uploads = await series(at('koa'), 'http_request_size_bytes');
      expect(uploads.find((s) => s.labels.route === '/api/builds')?.sum).toBe(
        JSON.stringify({ tree: 'mainline', arch: 'arm64' }).length,
      );
    },
  );
});

/** What both factories promise before any request: the same registry rules, names and option checks. */
describe.each([
  { name: 'koaMetrics', make: koaMetrics as (options?: object) => { name: string; registry: Registry } },
  { name: 'expressMetrics', make: expressMetrics as (options?: object) => { name: string; registry: Registry } },
])('$name', ({ name, make }) => {
  it("uses a fresh registry by default, never prom-client's global one, and adds default metrics on request", async () => {
    const a = make();
    const b = make({ defaultMetrics: true });
    expect(a.registry).not.toBe(b.registry);
    expect(a.registry).not.toBe(globalRegistry);
    expect(await globalRegistry.getMetricsAsJSON()).toEqual([]);
    expect(await a.registry.metrics()).not.toContain('process_cpu_user_seconds_total');
    expect(await b.registry.metrics()).toContain('process_cpu_user_seconds_total');
  });

  it('is a named middleware, recognisable in stack traces', () => {
    expect(make().name).toBe(name);
  });

  it.each([
    [{ buckets: [1, 0.5] }, /^Invalid option buckets \[1,0\.5\]: expected/],
    [{ buckets: [] }, /^Invalid option buckets \[\]: expected/],
    [{ prefix: 'my-app' }, /Invalid option prefix "my-app"/],
    [{ prefix: '1abc' }, /Invalid option prefix "1abc"/],
    [{ excludePaths: ['health'] }, /Invalid option excludePaths "health"/],
    [{ excludePaths: '/health' }, /Invalid option excludePaths "\/health"/],
    [{ customLabels: { route: 'x' } }, /Invalid option customLabels "route"/],
    [{ customLabels: { 'bad-name': 'x' } }, /Invalid option customLabels "bad-name"/],
    [{ customLabels: { team: 42 } }, /Invalid option customLabels\.team 42/],
    [{ responseSizes: 'yes' }, /Invalid option responseSizes "yes"/],
    [{ defaultMetrics: 1 }, /Invalid option defaultMetrics 1/],
    [{ exclude: ['/health'] }, /Invalid option "exclude": expected one of registry/],
  ])('throws at construction, naming the bad option: %j', (options, message) => {
    expect(() => make(options)).toThrow(message);
  });
});
