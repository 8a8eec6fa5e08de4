import { readFileSync } from 'node:fs';
import { createServer, type RequestListener, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createExpressApp } from './express-app.js';
import { createKoaApp } from './koa-app.js';
import { ROUTES } from './routes.js';
import { Rng } from './synthetic.js';
import { send } from './test-support/requests.js';
import { requestFor, UNMATCHED } from './traffic-plan.js';

async function listen(handler: RequestListener): Promise<Server> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

const byPath = (path: string) => ROUTES.find((r) => r.path === path) ?? (expect.unreachable(path) as never);
const portOf = (server: Server) => (server.address() as { port: number }).port;

describe('the route table', () => {
  it('is the one documented in the README, in the same order', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const documented = [...readme.matchAll(/^\| (GET|POST) \| (\S+) \|$/gm)].map((m) => `${m[1]} ${m[2]}`);
    expect(ROUTES.map((r) => `${r.method} ${r.path}`)).toEqual(documented);
    expect(documented).toHaveLength(45);
  });
});

describe('Koa and Express serve the same API', () => {
  let koa: Server;
  let express: Server;
  beforeAll(async () => {
    koa = await listen(createKoaApp({ latencyScale: 0 }).callback());
    express = await listen(createExpressApp({ latencyScale: 0 }));
  });
  afterAll(() => {
    koa.close();
    express.close();
  });

  const both = async (request: Parameters<typeof send>[1]) =>
    [await send(portOf(koa), request), await send(portOf(express), request)] as const;

  it.each(ROUTES.map((route) => [`${route.method} ${route.path}`, route] as const))(
    '%s answers 200 with the same JSON in both',
    async (_, route) => {
      const request = requestFor(new Rng(route.path), route);
      const [k, e] = await both(request);
      expect(k.status, `${request.method} ${request.url}`).toBe(200);
      expect(k.contentType).toBe('application/json; charset=utf-8');
      expect(e).toEqual(k);
      // The same URL with the other method matches no route.
      const [wk, we] = await both({ ...request, method: route.method === 'GET' ? 'POST' : 'GET', body: undefined });
      expect([wk.status, we.status]).toEqual([404, 404]);
    },
  );

  it('answers the same synthetic failures and unknown URLs in both', async () => {
    const cases = [
      { request: requestFor(new Rng('e'), byPath('/api/build/:buildId'), 'error'), status: 500 }, // /api/build/error
      { request: requestFor(new Rng('e'), byPath('/api/tree/'), 'error'), status: 500 }, // /api/tree/?origin=error
      { request: requestFor(new Rng('m'), byPath('/api/issue/:issueId'), 'missing'), status: 404 }, // /api/issue/missing
      {
        request: { method: 'POST' as const, url: '/api/hardware/x/summary', body: 'not json', route: '' },
        status: 400,
      },
      { request: { method: 'POST' as const, url: '/api/issue/extras/', body: '[1]', route: '' }, status: 400 },
      { request: { method: 'GET' as const, url: '/api/tree', route: UNMATCHED }, status: 404 },
      { request: { method: 'GET' as const, url: '/wp-login.php', route: UNMATCHED }, status: 404 },
    ];
    for (const { request, status } of cases) {
      const [k, e] = await both(request);
      expect(k.status, request.url).toBe(status);
      expect(e, request.url).toEqual(k);
    }
  });

  it('passes a branch with slashes to the *gitBranch routes', async () => {
    const [k, e] = await both({ method: 'GET', url: '/api/tree/next/for-next/core/compare', route: '' });
    expect(JSON.parse(k.body)).toMatchObject({ tree_name: 'next', git_repository_branch: 'for-next/core' });
    expect(e).toEqual(k);
  });
});
