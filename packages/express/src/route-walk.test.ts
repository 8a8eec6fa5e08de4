/**
 * How the Express adapter learns route templates: by walking the app's router tree, without subscribing
 * to the router's tracing channel (which makes Express do extra work for every layer of every request),
 * until a route turns out to be reachable through several mount paths. Its own file: the subscription is
 * process-wide, and the first tests need a process where nothing subscribed yet. Express 4 runs first and
 * must never subscribe: it tells several mount paths apart by matching the request's path.
 */
import { tracingChannel } from 'node:diagnostics_channel';
import { listen, series, settled } from '@kci-metrics/test-support/http';
import type { Request, Response } from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { expressMetrics } from './index.js';
import { type ExpressModule, MAJORS } from './majors.test-helper.js';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

const routerTracing = tracingChannel('express.router.request');
const traced = () => routerTracing.start.hasSubscribers;
const ok = (_req: Request, res: Response) => void res.send('ok');
const routeOf = (s: { labels: Record<string, unknown> }) => `${s.labels.route} ${s.labels.status_code}`;

async function serve(express: ExpressModule, setup: (app: ReturnType<ExpressModule>) => void) {
  const app = express();
  const metrics = expressMetrics();
  app.use(metrics);
  setup(app);
  const { base, close } = await listen(app);
  closers.push(close);
  const get = async (path: string) => {
    const res = await fetch(base + path);
    await res.arrayBuffer();
    return res.status;
  };
  const labels = async () => {
    await settled(metrics.registry);
    return (await series(metrics.registry)).map((s) => [routeOf(s), s.count]);
  };
  return { app, get, labels };
}

describe.each(MAJORS.filter((m) => m.major === 4))('Express 4 mount paths read back, $name', ({ express }) => {
  it('gives the template of every path-to-regexp 0.1 form a mount path can take', async () => {
    const { get, labels } = await serve(express, (app) => {
      const leaf = express.Router();
      leaf.get('/leaf', ok);
      app.use('/files/:name.:ext', leaf); // a dot before a parameter
      app.use('/opt/:id?', leaf); // an optional parameter
      app.use('/num/:id(\\d+)', leaf); // a parameter with its own pattern
      app.use('/pair/:from-:to', leaf); // two parameters in one segment
      app.use('/Trail/', leaf); // a trailing slash; case-insensitive matching, the template as written
      app.use(['/m1/:a', '/m2'], leaf); // an array
    });
    const paths = ['/files/r.txt/leaf', '/opt/9/leaf', '/num/42/leaf', '/pair/a-b/leaf', '/trail/leaf'];
    for (const path of [...paths, '/m1/x/leaf', '/m2/leaf']) expect(await get(path)).toBe(200);
    expect(await labels()).toEqual([
      ['/files/:name.:ext/leaf 200', 1],
      ['/m1/:a/leaf 200', 1],
      ['/m2/leaf 200', 1],
      ['/num/:id(\\d+)/leaf 200', 1],
      ['/opt/:id?/leaf 200', 1],
      ['/pair/:from-:to/leaf 200', 1],
      ['/Trail/leaf 200', 1],
    ]);
    expect(traced()).toBe(false);
  });
});

describe.each(MAJORS)('expressMetrics route templates from the router tree, $name', ({ major, express }) => {
  it('labels parameterised and nested mounts with their templates, with no tracing subscription', async () => {
    const { get, labels } = await serve(express, (app) => {
      const comments = express.Router();
      comments.get('/:commentId', ok);
      const posts = express.Router();
      posts.get('/', ok);
      posts.route('/:postId').get(ok);
      posts.use('/:postId/comments', comments);
      const api = express.Router();
      api.use('/users/:userId/posts', posts);
      app.use('/api', api);
      app.get('/', ok);
    });
    for (const path of ['/api/users/1/posts', '/api/users/2/posts/3', '/api/users/4/posts/5/comments/6', '/'])
      expect(await get(path)).toBe(200);
    expect(await labels()).toEqual([
      ['/ 200', 1],
      ['/api/users/:userId/posts 200', 1],
      ['/api/users/:userId/posts/:postId 200', 1],
      ['/api/users/:userId/posts/:postId/comments/:commentId 200', 1],
    ]);
    expect(traced()).toBe(false);
  });

  it('finds routers mounted after traffic started', async () => {
    const { app, get, labels } = await serve(express, (app) => app.get('/first', ok));
    expect(await get('/first')).toBe(200);
    const late = express.Router();
    late.get('/items/:itemId', ok);
    app.use('/late/:tenant', late);
    expect(await get('/late/acme/items/9')).toBe(200);
    expect(await get('/late/other/items/10')).toBe(200);
    expect(await labels()).toEqual([
      ['/first 200', 1],
      ['/late/:tenant/items/:itemId 200', 2],
    ]);
    expect(traced()).toBe(false);
  });

  it('tells apart the mount paths of one router mounted at two paths and under an array of paths', async () => {
    const { get, labels } = await serve(express, (app) => {
      const shared = express.Router();
      shared.get('/:id', ok);
      app.use('/a/:x', shared);
      app.use('/b', shared);
      app.use(['/v1/:kind', '/v2/:kind'], shared);
    });
    for (const path of ['/a/1/2', '/b/3', '/a/4/5', '/v2/builds/6', '/V1/tests/7']) expect(await get(path)).toBe(200);
    expect(await labels()).toEqual([
      ['/a/:x/:id 200', 2],
      ['/b/:id 200', 1],
      ['/v1/:kind/:id 200', 1],
      ['/v2/:kind/:id 200', 1],
    ]);
    // Express 4 matches the path against the mount paths it learnt; router 2.3 reports each layer entered.
    expect(traced()).toBe(major === 5);
  });
});
