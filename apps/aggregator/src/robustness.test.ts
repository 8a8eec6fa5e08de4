import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, type RunningServer, raw, startServer } from './test-support/http.js';
import { StoreFixture } from './test-support/store.js';

// Issue #6 "Bad input": malformed HTTP to the aggregator gets a short answer, never a crash or a stack trace.
let running: RunningServer;
let fixture: StoreFixture;

beforeAll(async () => {
  fixture = new StoreFixture();
  running = await startServer({ store: fixture.reader, timeouts: { headersMs: 500, requestMs: 1_000 } });
});
afterAll(async () => {
  await running.close();
  fixture.close();
});

async function stillServing(): Promise<void> {
  const answer = await get(running.port);
  expect(answer.status).toBe(200);
  expect(answer.text).toContain('jobs_total{queue=');
}

function statusLine(response: string): string {
  return response.split('\r\n', 1)[0] ?? '';
}

describe('malformed requests', () => {
  it('answers garbage bytes with 400 and keeps serving', async () => {
    const response = await raw(running.port, [Buffer.from([0x00, 0xff, 0x13, 0x37, 0x0d, 0x0a, 0x0d, 0x0a])]);
    expect(statusLine(response)).toBe('HTTP/1.1 400 Bad Request');
    expect(await raw(running.port, ['GET /metrics/ HTTP/9.9\r\n\r\n'])).toMatch(/^HTTP\/1\.1 400 /);
    expect(await raw(running.port, ['GET /metrics/ HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n'])).toMatch(
      /^HTTP\/1\.1 400 /,
    );
    await stillServing();
  });

  it('answers an unknown method with 400 and a known but unsupported one with 405', async () => {
    expect(statusLine(await raw(running.port, ['BREW /metrics/ HTTP/1.1\r\nHost: x\r\n\r\n']))).toBe(
      'HTTP/1.1 400 Bad Request',
    );
    const response = await raw(running.port, ['PROPFIND /metrics/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n']);
    expect(statusLine(response)).toBe('HTTP/1.1 405 Method Not Allowed');
    expect(response).toContain('Allow: GET, HEAD');
    await stillServing();
  });

  it('answers headers over 16 KB (here 64 KB) with 431 and keeps serving', async () => {
    const header = `GET /metrics/ HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`;
    expect(statusLine(await raw(running.port, [header]))).toBe('HTTP/1.1 431 Request Header Fields Too Large');
    await stillServing();
  });

  it('answers an HTTP/1.1 request without Host with 400', async () => {
    expect(statusLine(await raw(running.port, ['GET /metrics/ HTTP/1.1\r\n\r\n']))).toBe('HTTP/1.1 400 Bad Request');
  });

  it('still serves HTTP/1.0 clients', async () => {
    const response = await raw(running.port, ['GET /metrics HTTP/1.0\r\n\r\n']);
    expect(statusLine(response)).toBe('HTTP/1.1 200 OK');
    expect(response).toContain('jobs_total{queue=');
  });
});

describe('slow and oversized clients', () => {
  it('times out a client that sends its headers a line at a time (slowloris) with 408', async () => {
    const lines = ['GET /metrics/ HTTP/1.1\r\n', ...Array.from({ length: 40 }, (_, i) => `X-Slow-${i}: 1\r\n`), '\r\n'];
    const response = await raw(running.port, lines, 100);
    expect(statusLine(response)).toBe('HTTP/1.1 408 Request Timeout');
    await stillServing();
  });

  it('answers without reading a request body, and closes the connection', async () => {
    // The client announces 100 MB and sends a few bytes: the answer must not wait for (or buffer) the rest.
    const post = await raw(running.port, [
      'POST /metrics/ HTTP/1.1\r\nHost: x\r\nContent-Length: 104857600\r\n\r\nabc',
    ]);
    expect(statusLine(post)).toBe('HTTP/1.1 405 Method Not Allowed');
    expect(post).toContain('Connection: close');
    const withBody = await raw(running.port, [
      'GET /metrics/ HTTP/1.1\r\nHost: x\r\nContent-Length: 104857600\r\n\r\nabc',
    ]);
    expect(statusLine(withBody)).toBe('HTTP/1.1 200 OK');
    expect(withBody).toContain('jobs_total{queue=');
  });
});

describe('connection floods', () => {
  it('refuses connections beyond maxConnections, and serves again once they are gone', async () => {
    const small = await startServer({ store: fixture.reader, maxConnections: 3 });
    try {
      const idle = await Promise.all(
        Array.from(
          { length: 3 },
          () =>
            new Promise<Socket>((resolve) => {
              const socket = connect(small.port, '127.0.0.1', () => resolve(socket));
            }),
        ),
      );
      // The fourth is closed at once, without an answer.
      expect(await raw(small.port, ['GET /metrics/ HTTP/1.1\r\nHost: x\r\n\r\n'])).toBe('');
      for (const socket of idle) socket.destroy();
      // The server learns of the closes asynchronously; ask until it has.
      let response = '';
      for (let attempt = 0; attempt < 40 && response === ''; attempt++) {
        await new Promise((resolve) => setTimeout(resolve, 25));
        response = await raw(small.port, ['GET /metrics/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n']);
      }
      expect(statusLine(response)).toBe('HTTP/1.1 200 OK');
    } finally {
      await small.close();
    }
  });
});

describe('paths', () => {
  it.each([
    '/metrics/../etc/passwd',
    '/metrics/..%2f..%2fetc%2fpasswd',
    '/metrics/%2e%2e/%2e%2e/etc/passwd',
    '/%2e%2e/metrics',
    '/metrics%2f',
    '/metrics/x',
    '//metrics',
    '/METRICS',
    '/',
    '/favicon.ico',
  ])('answers %s with a plain 404 that echoes nothing', async (path) => {
    const response = await raw(running.port, [`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`]);
    expect(statusLine(response)).toBe('HTTP/1.1 404 Not Found');
    const body = response.slice(response.indexOf('\r\n\r\n') + 4);
    expect(body).toBe('not found: metrics are served at /metrics/\n');
  });

  it('serves /metrics and /metrics/ whatever the query string, also in absolute form', async () => {
    for (const target of ['/metrics', '/metrics/', '/metrics?x=1', '/metrics/?name[]=../../etc', 'http://x/metrics/']) {
      const response = await raw(running.port, [`GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`]);
      expect(statusLine(response), target).toBe('HTTP/1.1 200 OK');
    }
  });
});
