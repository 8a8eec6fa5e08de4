import { once } from 'node:events';
import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { onResponseDone, type ResponseOutcome } from './response.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
  server = undefined;
});

/** A real server whose every exchange is watched; resolves the outcome of the next request. */
async function serve(handler: Handler) {
  let notify: (outcome: ResponseOutcome) => void = () => {};
  server = createServer((req, res) => {
    onResponseDone(req, res, { requestSizes: true, responseSizes: true }, (outcome) => notify(outcome));
    handler(req, res);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const next = () => new Promise<ResponseOutcome>((r) => (notify = r));
  return { base, next };
}

describe('onResponseDone', () => {
  it('reports the status and the body bytes of a finished response', async () => {
    const { base, next } = await serve((_req, res) => {
      res.statusCode = 201;
      res.write('héllo '); // 7 bytes in UTF-8
      res.end(Buffer.from('world'));
    });
    const outcome = next();
    expect(await (await fetch(`${base}/x`, { method: 'POST', body: 'abc' })).text()).toBe('héllo world');
    expect(await outcome).toEqual({ statusCode: 201, requestBytes: 3, responseBytes: 12 });
  });

  it('counts a chunked request body without a Content-Length', async () => {
    const { base, next } = await serve((req, res) => {
      req.resume();
      req.on('end', () => res.end());
    });
    const outcome = next();
    const req = request(`${base}/upload`, { method: 'PUT' });
    req.write('a'.repeat(1000));
    req.end('b'.repeat(24));
    await once(req, 'response');
    expect((await outcome).requestBytes).toBe(1024);
  });

  it('reports 0 body bytes for HEAD, whatever the app writes', async () => {
    const { base, next } = await serve((_req, res) => res.end('ignored by node'));
    const outcome = next();
    await fetch(base, { method: 'HEAD' });
    expect(await outcome).toMatchObject({ statusCode: 200, responseBytes: 0 });
  });

  it('reports 499 when the client hangs up before the response finished', async () => {
    const { base, next } = await serve((_req, res) => res.write('partial')); // never ends
    const outcome = next();
    const req = request(base);
    req.on('error', () => {});
    req.on('response', (res) => res.once('data', () => req.destroy()));
    req.end();
    expect(await outcome).toMatchObject({ statusCode: 499, responseBytes: 7 });
  });

  it('reports 500 when the server breaks off a response with an error', async () => {
    const { base, next } = await serve((_req, res) => {
      res.write('partial');
      setTimeout(() => res.destroy(new Error('disk gone')), 10);
    });
    const outcome = next();
    await fetch(base)
      .then((r) => r.text())
      .catch(() => 'broken');
    expect((await outcome).statusCode).toBe(500);
  });

  it('swallows an exception thrown by the callback so the server keeps serving', async () => {
    server = createServer((req, res) => {
      onResponseDone(req, res, {}, () => {
        throw new Error('metrics bug');
      });
      res.end('ok');
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    expect(await (await fetch(base)).text()).toBe('ok');
    expect(await (await fetch(base)).text()).toBe('ok');
  });
});
