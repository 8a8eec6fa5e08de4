// The adapters and the store together, in one process, as every worker runs them: requests served before
// the store's first flush and after it are all written. The adapters' observers keep prom-client's entries
// while the histogram's map is the same object; the store's change tracking once swapped tracked copies
// into that map at its first flush, and every later request of those series went into entries nobody read
// (CI: PM2 instances that served requests before their first flush lost them for good).
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expressMetrics } from '@kci-metrics/express';
import { koaMetrics } from '@kci-metrics/koa';
import { openStore } from '@kci-metrics/sqlite-store';
import Router from '@koa/router';
import express from 'express';
import Koa from 'koa';
import type { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function koaServer(): { registry: Registry; listen: () => Server } {
  const app = new Koa();
  const metrics = koaMetrics();
  app.use(metrics);
  const router = new Router();
  router.get('/api/tree/:commitHash/full', (ctx) => {
    ctx.body = { ok: true };
  });
  app.use(router.routes());
  return { registry: metrics.registry, listen: () => app.listen(0, '127.0.0.1') };
}

function expressServer(): { registry: Registry; listen: () => Server } {
  const app = express();
  const metrics = expressMetrics();
  app.use(metrics);
  app.get('/api/tree/:commitHash/full', (_req, res) => {
    res.json({ ok: true });
  });
  return { registry: metrics.registry, listen: () => app.listen(0, '127.0.0.1') };
}

async function send(server: Server, n: number): Promise<void> {
  const { port } = server.address() as AddressInfo;
  for (let i = 0; i < n; i++) {
    const res = await fetch(`http://127.0.0.1:${port}/api/tree/${i.toString(16)}/full`);
    await res.arrayBuffer();
    expect(res.status).toBe(200);
  }
}

describe.each([
  ['Koa', koaServer],
  ['Express', expressServer],
])('%s adapter with the store attached', (_name, make) => {
  it('writes the requests served before the first flush and every one after it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kci-first-flush-'));
    dirs.push(dir);
    const { registry, listen } = make();
    // The interval's flushes are left to the test: the first timer flush would come within the hour.
    const store = openStore({ dir, flushIntervalMs: 3_600_000, logger: { warn() {} } });
    store.attach(registry);
    const server = listen();
    await once(server, 'listening');
    try {
      await send(server, 5);
      expect(store.flush()).toBe(true);
      await send(server, 7);
      expect(store.flush({ ifChanged: true })).toBe(true);
      await send(server, 3);
      expect(store.flush({ ifChanged: true })).toBe(true);
      const text = await store.metrics();
      const line = text
        .split('\n')
        .find((l) => l.startsWith('http_request_duration_seconds_count{') && l.includes('/api/tree/:commitHash/full'));
      expect(line?.split(' ').pop()).toBe('15');
    } finally {
      server.close();
      store.close();
    }
  });
});
