/** The traffic generator (dist/traffic.js) against a real Koa app on a loopback port. */
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKoaApp } from './koa-app.js';
import { ROUTES } from './routes.js';
import { cleanEnv, runToExit } from './test-support/backend.js';
import { isLoopbackAddress } from './traffic-options.js';
import { type PlannedRequest, trafficPlan, UNMATCHED } from './traffic-plan.js';

let server: Server;
let target: string;
let received = 0;

beforeAll(async () => {
  const app = createKoaApp({ latencyScale: 0 }).callback();
  server = createServer((req, res) => {
    received += 1;
    app(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  target = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(() => server.close());

describe('pnpm --filter backend traffic', () => {
  it('sends the requested number of requests across every route, then prints them per route and status', async () => {
    received = 0;
    const { code, output } = await runToExit('traffic', cleanEnv({ TRAFFIC_TARGET: target, TRAFFIC_RATE: '0' }), [
      '--requests',
      '300',
      '--concurrency',
      '6',
    ]);
    expect(code).toBe(0);
    expect(received).toBe(300);
    expect(output).toContain(`300 responses from`);
    expect(output).toContain('0 failed');
    for (const route of ROUTES)
      expect(output).toMatch(new RegExp(`^${route.method} ${route.path.replace(/\*/g, '\\*')} +200: \\d+`, 'm'));
    expect(output).toMatch(/ 500: \d+/); // `error` ids
    expect(output).toMatch(new RegExp(`^GET ${UNMATCHED} +404: \\d+$`, 'm'));
  });

  it('stops by itself when the duration is over, whatever the request count', async () => {
    received = 0;
    const { code, output } = await runToExit('traffic', cleanEnv({ TRAFFIC_TARGET: target }), [
      '--requests',
      '1000000',
      '--rate',
      '20',
      '--duration',
      '1',
    ]);
    expect(code).toBe(0);
    expect(received).toBeGreaterThan(0);
    expect(received).toBeLessThan(100);
    expect(output).toContain(`${received} responses from`);
  });

  it.each([
    ['http://192.0.2.10:8000', '--target'],
    ['http://[2001:db8::1]:8000', '--target'],
    ['https://127.0.0.1:8000', '--target'],
  ])('refuses the non-loopback target %s before sending anything', async (url, key) => {
    const { code, output } = await runToExit('traffic', cleanEnv({}), ['--target', url]);
    expect(code).toBe(2);
    expect(output).toContain(`traffic: Invalid ${key} "${url}": expected an http:// URL of a loopback address`);
  });

  it('names the variable when TRAFFIC_REQUESTS is invalid', async () => {
    const { code, output } = await runToExit('traffic', cleanEnv({ TRAFFIC_TARGET: target, TRAFFIC_REQUESTS: 'many' }));
    expect(code).toBe(2);
    expect(output).toContain('traffic: Invalid TRAFFIC_REQUESTS "many": expected an integer 1-10000000');
  });
});

describe('the traffic plan', () => {
  it('visits every route first, then mixes in about 3% unknown URLs, 2% missing and 2% error ids', () => {
    const plan = trafficPlan('test');
    const requests = Array.from({ length: 10_000 }, () => plan.next().value);
    expect(requests.slice(0, ROUTES.length).map((r) => `${r.method} ${r.route}`)).toEqual(
      ROUTES.map((r) => `${r.method} ${r.path}`),
    );
    const share = (test: (r: PlannedRequest) => boolean) => requests.filter(test).length / requests.length;
    expect(share((r) => r.route === UNMATCHED)).toBeCloseTo(0.03, 2);
    expect(share((r) => /[/=]missing(\/|\?|&|$)/.test(r.url))).toBeCloseTo(0.02, 2);
    expect(share((r) => /[/=]error(\/|\?|&|$)/.test(r.url))).toBeCloseTo(0.02, 2);
  });

  it('recognises loopback addresses only', () => {
    expect(['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1'].every(isLoopbackAddress)).toBe(true);
    expect(['10.0.0.1', '0.0.0.0', '::', '192.168.1.1', '::ffff:10.0.0.1'].some(isLoopbackAddress)).toBe(false);
  });
});
