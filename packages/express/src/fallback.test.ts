/**
 * When the router internals the template walk reads are missing or shaped differently (Express 5 with
 * router 2.0-2.2 keeps no mount paths; a future router may keep them elsewhere), labels must stay bounded:
 * never `req.baseUrl`, which holds the ids of parameterised mounts (issue 14: 2000 ids gave 2202 series).
 * The internals are broken by hand here, after the routes are set up and before the first request.
 */

import { listen, series, settled } from '@kci-metrics/test-support/http';
import express5, { type Request, type Response } from 'express';
import router22 from 'router22';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { expressMetrics } from './index.js';
import { type ExpressModule, MAJORS } from './majors.test-helper.js';
import { resetReported } from './router-internals.js';

const closers: (() => Promise<void>)[] = [];
let warn: ReturnType<typeof vi.spyOn>;
beforeEach(() => {
  resetReported();
  warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
});
afterEach(async () => {
  warn.mockRestore();
  await Promise.all(closers.splice(0).map((close) => close()));
});

type App = ReturnType<ExpressModule>;
const ok = (_req: Request, res: Response) => void res.send('ok');

/** The demo's shape: parameterised mounts, nested routers, an error leaving a sub-router, app routes. */
function build(express: ExpressModule): App {
  const app = express();
  app.set('env', 'test');
  const posts = express.Router();
  posts.get('/:postId', ok);
  posts.get('/:postId/fail', () => {
    throw new Error('bug');
  });
  const api = express.Router();
  api.use('/users/:userId/posts', posts);
  app.use(metricsOf(app));
  app.use('/api', api);
  app.get('/health/:probe', ok);
  return app;
}
const registries = new WeakMap<App, ReturnType<typeof expressMetrics>>();
function metricsOf(app: App) {
  const metrics = expressMetrics();
  registries.set(app, metrics);
  return metrics;
}

/** Every layer of the app's router tree (Express 4: `app._router`; 5: `app.router`). */
function layersOf(app: App): Record<string, unknown>[] {
  const own = app as unknown as { _router?: { stack: unknown[] }; router?: { stack: unknown[] } };
  const out: Record<string, unknown>[] = [];
  const visit = (stack: unknown[]) => {
    for (const layer of stack as Record<string, unknown>[]) {
      out.push(layer);
      const sub = (layer.handle as { stack?: unknown[] } | undefined)?.stack;
      if (Array.isArray(sub)) visit(sub);
    }
  };
  visit((own._router ?? own.router)?.stack ?? []);
  return out;
}

/** 2000 users' posts, 50 failing, 20 health probes: what the labels make of ids in every mount. */
async function load(app: App) {
  const { base, close } = await listen(app);
  closers.push(close);
  const statuses = new Map<number, number>();
  const send = async (path: string) => {
    const res = await fetch(base + path);
    await res.arrayBuffer();
    statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
  };
  for (let i = 0; i < 2000; i += 20)
    await Promise.all(Array.from({ length: 20 }, (_, j) => send(`/api/users/${i + j}/posts/${i + j}`)));
  for (let i = 0; i < 50; i++) await send(`/api/users/${i}/posts/${i}/fail`);
  for (let i = 0; i < 20; i++) await send(`/health/probe${i}`);
  const metrics = registries.get(app) as ReturnType<typeof expressMetrics>;
  await settled(metrics.registry);
  const all = await series(metrics.registry);
  return {
    statuses: Object.fromEntries(statuses),
    labels: all.map((s) => [`${s.labels.route} ${s.labels.status_code}`, s.count]),
  };
}

describe.each(MAJORS)('expressMetrics without readable router internals, $name', ({ name, major, express }) => {
  it('labels by the exact templates while the internals are there', async () => {
    const { statuses, labels } = await load(build(express));
    expect(statuses).toEqual({ 200: 2020, 500: 50 });
    expect(labels).toEqual([
      ['/api/users/:userId/posts/:postId 200', 2000],
      ['/api/users/:userId/posts/:postId/fail 500', 50],
      ['/health/:probe 200', 20],
    ]);
    expect(warn).not.toHaveBeenCalled();
  });

  it('stays bounded when the mount paths are gone, and says so once, naming the version', async () => {
    const app = build(express);
    for (const layer of layersOf(app)) {
      // Express 5 with router 2.0-2.2 keeps no rawPath. Express 4 reads its keys by index only: as an
      // array-like they still work for Express, but are not the shape the walk expects.
      if (major === 5) delete layer.rawPath;
      else layer.keys = { ...(layer.keys as unknown[]), length: (layer.keys as unknown[]).length };
    }
    const { statuses, labels } = await load(app);
    expect(statuses).toEqual({ 200: 2020, 500: 50 });
    expect(labels).toEqual([
      ['/<unknown>/:postId 200', 2000],
      ['/<unknown>/:postId/fail 500', 50],
      ['/health/:probe 200', 20],
    ]);
    expect(warn).toHaveBeenCalledTimes(1);
    // e.g. `Express 5.3.0 (router 2.3.0): the paths ...`
    expect(String(warn.mock.calls[0]?.[0])).toMatch(
      new RegExp(
        `${name.replaceAll('.', '\\.')}( \\(router [\\d., ]+\\))?: the paths its routers are mounted at could not be read`,
      ),
    );
  });

  it('stays bounded for a router the walk cannot see, behind a plain function', async () => {
    const app = express();
    const metrics = metricsOf(app);
    app.use(metrics);
    const posts = express.Router();
    posts.get('/:postId', ok);
    app.use('/api/users/:userId/posts', (req, res, next) => posts(req, res, next)); // not a router to the walk
    app.get('/health/:probe', ok);
    const { statuses, labels } = await load(app);
    expect(statuses).toEqual({ 200: 2020, 404: 50 });
    expect(labels).toEqual([
      ['/<unknown>/:postId 200', 2000],
      ['/health/:probe 200', 20],
      ['<unmatched> 404', 50],
    ]);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]?.[0])).toContain(name);
  });
});

describe('expressMetrics with routers of router 2.2 (before rawPath) in an Express 5 app', () => {
  it('labels what the app knows, /<unknown> for what router 2.2 hides, and says which routers it found', async () => {
    const app = express5();
    app.set('env', 'test');
    app.use(metricsOf(app));
    const posts = router22();
    posts.get('/:postId', ok);
    posts.get('/:postId/fail', () => {
      throw new Error('bug');
    });
    const api = router22();
    api.use('/users/:userId/posts', posts);
    app.use('/api', api); // mounted on Express 5.3's own router 2.3, which keeps '/api'
    app.get('/health/:probe', ok);
    const { statuses, labels } = await load(app);
    expect(statuses).toEqual({ 200: 2020, 500: 50 });
    expect(labels).toEqual([
      ['/api/<unknown>/:postId 200', 2000],
      ['/api/<unknown>/:postId/fail 500', 50],
      ['/health/:probe 200', 20],
    ]);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]?.[0])).toMatch(
      /Express 5\.\d+\.\d+ \(router (2\.2\.0, 2\.3\.\d+|2\.3\.\d+, 2\.2\.0)\)/,
    );
  });
});

describe.each(MAJORS.filter((m) => m.major === 4))(
  'expressMetrics on $name with a wildcard mount',
  ({ name, express }) => {
    it('cannot read `/files/*/meta` back from its RegExp: /<unknown> below it, said once', async () => {
      const app = express();
      app.use(metricsOf(app));
      const files = express.Router();
      files.get('/:name', ok);
      app.use('/files/*/meta', files); // Express 4 only: path-to-regexp 0.1 wildcards
      app.get('/health/:probe', ok);
      const { base, close } = await listen(app);
      closers.push(close);
      for (const path of ['/files/a/meta/x', '/files/b/c/meta/y', '/health/p1'])
        await (await fetch(base + path)).text();
      const metrics = registries.get(app) as ReturnType<typeof expressMetrics>;
      await settled(metrics.registry);
      expect(
        (await series(metrics.registry)).map((s) => [`${s.labels.route} ${s.labels.status_code}`, s.count]),
      ).toEqual([
        ['/<unknown>/:name 200', 2],
        ['/health/:probe 200', 1],
      ]);
      expect(warn).toHaveBeenCalledTimes(1);
      expect(String(warn.mock.calls[0]?.[0])).toContain(name);
    });
  },
);

describe.each(MAJORS)(
  'expressMetrics on $name, one router at two paths inside a sub-application',
  ({ major, express }) => {
    it("labels by the sub-application's mount path, and stays bounded where the mount taken is unknown", async () => {
      const app = express();
      app.use(metricsOf(app));
      const shared = express.Router();
      shared.get('/:id', ok);
      const tenant = express();
      tenant.use(['/a', '/b'], shared);
      app.use('/t/:tenant', tenant);
      const { base, close } = await listen(app);
      closers.push(close);
      for (let i = 0; i < 40; i++) await (await fetch(`${base}/t/tenant${i}/${i % 2 ? 'a' : 'b'}/${i}`)).text();
      const metrics = registries.get(app) as ReturnType<typeof expressMetrics>;
      await settled(metrics.registry);
      const labels = (await series(metrics.registry)).map((s) => [
        `${s.labels.route} ${s.labels.status_code}`,
        s.count,
      ]);
      // Router 2.3 follows the request into the sub-application. Express 4's matching starts from the full
      // path, which the sub-application's routers never saw: bounded, with the sub-application's mount path.
      expect(labels).toEqual(
        major === 5
          ? [
              ['/t/:tenant/<unknown>/:id 200', 1], // the first request: it started before the walk found two mounts
              ['/t/:tenant/a/:id 200', 20],
              ['/t/:tenant/b/:id 200', 19],
            ]
          : [['/t/:tenant/<unknown>/:id 200', 40]],
      );
    });
  },
);
