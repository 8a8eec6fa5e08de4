/**
 * The recorder's track(): node:http announces the exchange on its diagnostics channels and the recorder
 * ends it on the response's finish or the connection's close, with no listener per request.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import type { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { createHttpRecorder } from './recorder.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

let server: Server | undefined;
async function stop(): Promise<void> {
  const running = server;
  server = undefined;
  if (!running) return;
  running.closeAllConnections();
  await new Promise((r) => running.close(r));
}
afterEach(stop);

async function serve(handler: Handler): Promise<string> {
  server = createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A recorder whose route label is the path itself (a test stand-in for a router's template). */
function recorder(options: Parameters<typeof createHttpRecorder>[0] = {}) {
  return createHttpRecorder<IncomingMessage>(options, { route: (req) => req.url?.split('?')[0] });
}

interface Recorded {
  series: string;
  count: number;
  sum: number;
}

async function recorded(registry: Registry): Promise<Recorded[]> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === 'http_request_duration_seconds');
  const out = new Map<string, Recorded>();
  for (const v of (metric?.values ?? []) as { labels: Record<string, string>; value: number; metricName?: string }[]) {
    const { method, route, status_code } = v.labels;
    const series = `${method} ${route} ${status_code}`;
    const entry = out.get(series) ?? { series, count: 0, sum: 0 };
    if (v.metricName?.endsWith('_count')) entry.count = v.value;
    if (v.metricName?.endsWith('_sum')) entry.sum = v.value;
    out.set(series, entry);
  }
  return [...out.values()].sort((a, b) => a.series.localeCompare(b.series));
}

async function inFlight(registry: Registry): Promise<number> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === 'http_server_active_requests');
  return (metric?.values ?? []).reduce((n, v) => n + v.value, 0);
}

/** Wait until the recorder has seen every request end (the client can read a response before 'finish'). */
async function drained(registry: Registry): Promise<void> {
  for (let i = 0; i < 200 && (await inFlight(registry)) > 0; i++) await new Promise((r) => setTimeout(r, 10));
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A recorder with the default options takes the plain path (one object literal per request); with a size
 * histogram, custom labels or exemplars it takes the general one (PendingRequest and the pipeline). Both
 * must count the same.
 */
const PATHS = [
  ['the plain path', {}],
  ['the general path', { responseSizes: true }],
] as const;

describe('HttpRecorder.track', () => {
  it('records the status sent, timed from the parsed request to the last byte of a streamed body', async () => {
    const rec = recorder();
    const base = await serve(async (req, res) => {
      await pause(40); // e.g. a body parser installed before the metrics middleware
      rec.track(req, res, req);
      res.statusCode = 201;
      res.write('first');
      await pause(60);
      res.end('last');
    });
    expect(await (await fetch(`${base}/upload?x=1`)).text()).toBe('firstlast');
    await drained(rec.registry);
    const [series] = await recorded(rec.registry);
    expect(series).toMatchObject({ series: 'GET /upload 201', count: 1 });
    expect(series?.sum).toBeGreaterThanOrEqual(0.1);
    expect(series?.sum).toBeLessThan(2);
  });

  it('adds no listener per request: one per connection, however many requests it carries', async () => {
    const rec = recorder();
    const listeners: string[] = [];
    const base = await serve((req, res) => {
      rec.track(req, res, req);
      // node:http's own: one 'finish' listener on the response, one 'close' listener on the socket per response
      listeners.push(
        `${res.listenerCount('close')} ${res.listenerCount('finish')} ${req.socket.listenerCount('close')}`,
      );
      res.end('ok');
    });
    for (let i = 0; i < 20; i++) await (await fetch(`${base}/a`)).text(); // fetch keeps the connection alive
    await drained(rec.registry);
    expect(new Set(listeners)).toEqual(new Set([listeners[0]]));
    expect(listeners[0]?.startsWith('0 1 ')).toBe(true);
    expect(await recorded(rec.registry)).toMatchObject([{ series: 'GET /a 200', count: 20 }]);
  });

  it.each(PATHS)(
    'records 499 when the client hangs up first, and 500 when the server breaks it off (%s)',
    async (_, options) => {
      const rec = recorder(options);
      const base = await serve((req, res) => {
        rec.track(req, res, req);
        res.write('partial');
        if (req.url === '/broken') setTimeout(() => res.destroy(new Error('disk gone')), 20);
      });
      const hungUp = new Promise<void>((resolve) => {
        const req = request(`${base}/hang-up`);
        req.on('error', () => {});
        req.on('response', (res) =>
          res.once('data', () => {
            req.destroy();
            resolve();
          }),
        );
        req.end();
      });
      await hungUp;
      await fetch(`${base}/broken`)
        .then((r) => r.text())
        .catch(() => 'broken');
      await drained(rec.registry);
      expect(await recorded(rec.registry)).toMatchObject([
        { series: 'GET /broken 500', count: 1 },
        { series: 'GET /hang-up 499', count: 1 },
      ]);
      expect(await inFlight(rec.registry)).toBe(0);
    },
  );

  it.each(PATHS)(
    'records each of several pipelined requests on one connection, the unanswered as 499 (%s)',
    async (_, options) => {
      const rec = recorder(options);
      const base = await serve((req, res) => {
        rec.track(req, res, req);
        if (req.url !== '/never') setTimeout(() => res.end(req.url), req.url === '/one' ? 30 : 0);
      });
      const socket = connect(Number(new URL(base).port), '127.0.0.1');
      await once(socket, 'connect');
      socket.write('GET /one HTTP/1.1\r\nHost: x\r\n\r\nGET /two HTTP/1.1\r\nHost: x\r\n\r\n');
      socket.write('GET /never HTTP/1.1\r\nHost: x\r\n\r\nGET /queued HTTP/1.1\r\nHost: x\r\n\r\n');
      let received = '';
      socket.on('data', (d) => (received += d));
      for (let i = 0; i < 100 && !received.includes('/two'); i++) await pause(10);
      socket.destroy();
      await drained(rec.registry);
      const series = (await recorded(rec.registry)).map((s) => `${s.series} x${s.count}`);
      // /queued was answered by the app, but behind /never: its response never left the server.
      expect(series).toEqual(['GET /never 499 x1', 'GET /one 200 x1', 'GET /queued 499 x1', 'GET /two 200 x1']);
    },
  );

  it('leaves an excluded request to others, and records a request two recorders track in both', async () => {
    const strict = recorder({ excludePaths: ['/health'] });
    const all = recorder();
    const base = await serve((req, res) => {
      strict.track(req, res, req);
      all.track(req, res, req); // the second sees it claimed and watches the response itself
      res.end('ok');
    });
    for (const path of ['/health', '/api']) await (await fetch(base + path)).text();
    await drained(strict.registry);
    await drained(all.registry);
    expect((await recorded(strict.registry)).map((s) => s.series)).toEqual(['GET /api 200']);
    expect((await recorded(all.registry)).map((s) => s.series)).toEqual(['GET /api 200', 'GET /health 200']);
  });

  it('records a request that reaches the recorder after another one started the same way (by a listener)', async () => {
    const rec = recorder();
    let release: () => void = () => {};
    let firstTracked: () => void = () => {};
    const secondArrived = new Promise<void>((r) => (release = r));
    const firstDone = new Promise<void>((r) => (firstTracked = r));
    const base = await serve(async (req, res) => {
      if (req.url === '/first') {
        await secondArrived; // e.g. an asynchronous middleware before the metrics one: /second started since
        rec.track(req, res, req);
        firstTracked();
        res.statusCode = 202;
      } else {
        release();
        await firstDone;
        rec.track(req, res, req);
      }
      res.end('ok');
    });
    const first = fetch(`${base}/first`).then((r) => r.text());
    await pause(20);
    await (await fetch(`${base}/second`)).text();
    await first;
    await drained(rec.registry);
    expect((await recorded(rec.registry)).map((s) => `${s.series} x${s.count}`)).toEqual([
      'GET /first 202 x1',
      'GET /second 200 x1',
    ]);
  });

  it('excludes the metrics path, with or without a query string, and nothing that merely starts like it', async () => {
    const targets = ['/metrics', '/metrics/', '/metrics?a=1', '/metrics/?a=1', '/metricsx', '/metrics/x', '/metrics//'];
    for (const options of [{}, { excludePaths: ['/health'] }]) {
      const rec = recorder(options); // the first checks the raw target, the second slices the path
      const base = await serve((req, res) => {
        rec.track(req, res, req);
        res.end('ok');
      });
      for (const target of targets) await (await fetch(base + target)).text();
      await drained(rec.registry);
      expect((await recorded(rec.registry)).map((s) => s.series)).toEqual([
        'GET /metrics// 200',
        'GET /metrics/x 200',
        'GET /metricsx 200',
      ]);
      await stop();
    }
  });

  it('counts a request whose body cannot be watched, and leaves nothing in flight', async () => {
    // Another middleware made res.end a getter-only property (as some instrumentations do): wrapping it
    // for the response size throws. Before, the in-flight gauge had been raised first and the error was
    // swallowed: the gauge stayed at 1 forever and the request was never counted.
    const rec = recorder({ responseSizes: true });
    const base = await serve((req, res) => {
      const end = res.end;
      Object.defineProperty(res, 'end', { configurable: true, get: () => end });
      rec.track(req, res, req);
      res.end('ok');
    });
    expect(await (await fetch(`${base}/sealed`)).text()).toBe('ok');
    await drained(rec.registry);
    expect(await inFlight(rec.registry)).toBe(0);
    expect(await recorded(rec.registry)).toMatchObject([{ series: 'GET /sealed 200', count: 1 }]);
  });

  it('counts such a request on the listener path too (a request another recorder claimed first)', async () => {
    const first = recorder();
    const second = recorder({ requestSizes: true });
    const base = await serve((req, res) => {
      first.track(req, res, req);
      const push = req.push;
      Object.defineProperty(req, 'push', { configurable: true, get: () => push });
      second.track(req, res, req); // claimed already: watches the response itself, and req.push cannot be wrapped
      res.end('ok');
    });
    const response = await fetch(`${base}/sealed`, { method: 'POST', body: 'payload' });
    expect(await response.text()).toBe('ok');
    await drained(first.registry);
    await drained(second.registry);
    expect(await inFlight(second.registry)).toBe(0);
    expect(await recorded(second.registry)).toMatchObject([{ series: 'POST /sealed 200', count: 1 }]);
    expect(await recorded(first.registry)).toMatchObject([{ series: 'POST /sealed 200', count: 1 }]);
  });

  it('computes custom labels the moment the response ends, not when the metrics are read', async () => {
    let phase = 'serving';
    const rec = recorder({ customLabels: { phase: () => phase } });
    const base = await serve((req, res) => {
      phase = 'serving';
      rec.track(req, res, req);
      res.on('finish', () => setImmediate(() => (phase = 'after the response')));
      res.end('ok');
    });
    for (let i = 0; i < 3; i++) await (await fetch(`${base}/labelled`)).text();
    await pause(50);
    const metric = (await rec.registry.getMetricsAsJSON()).find((m) => m.name === 'http_request_duration_seconds');
    const phases = new Set((metric?.values ?? []).map((v) => v.labels.phase));
    expect([...phases]).toEqual(['serving']);
  });

  it.each([...PATHS, ['custom labels', { customLabels: { tenant: () => 'acme' } }]] as const)(
    'never fails the server when the route function throws: the request counts, as unmatched (%s)',
    async (_, options) => {
      const rec = createHttpRecorder<IncomingMessage>(options, {
        route: () => {
          throw new Error('router internals changed');
        },
      });
      const base = await serve((req, res) => {
        rec.track(req, res, req);
        res.end('ok');
      });
      expect(await (await fetch(base)).text()).toBe('ok');
      expect(await (await fetch(base)).text()).toBe('ok');
      await drained(rec.registry);
      expect(await recorded(rec.registry)).toMatchObject([{ series: 'GET <unmatched> 200', count: 2 }]);
    },
  );
});
