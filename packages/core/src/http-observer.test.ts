import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { httpObserver } from './http-observer.js';
import { statusLabel } from './labels.js';

const BUCKETS = [0.005, 0.01, 0.1, 1, 10];

function pair(labelNames = ['method', 'route', 'status_code']) {
  const make = () => new Histogram({ name: 'h_seconds', help: 'h', labelNames, buckets: BUCKETS, registers: [] });
  const reference = make();
  const fast = make();
  return { reference, fast, observe: httpObserver(fast) };
}

/** A deterministic stream: repeated series, values on the bounds and above the last, bogus statuses. */
function* requests(n: number) {
  let seed = 11;
  const next = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed;
  };
  const values = [0, 0.005, 0.0051, 0.01, 0.5, 1, 10, 10.0001, 1e6, 0.25];
  const statuses = [200, 200, 201, 404, 499, 500, 999, 42];
  for (let i = 0; i < n; i++) {
    yield {
      method: ['GET', 'POST', 'HEAD'][next() % 3] as string,
      route: `/api/r${next() % 9}/:id`,
      status: statuses[next() % statuses.length] as number,
      value: values[next() % values.length] as number,
    };
  }
}

const snapshot = async (h: Histogram<string>) => (await h.get()).values;

describe('httpObserver', () => {
  it('leaves a histogram exactly as prom-client observe() would, bogus statuses filed under 500', async () => {
    const { reference, fast, observe } = pair();
    for (const { method, route, status, value } of requests(6000)) {
      reference.observe({ method, route, status_code: statusLabel(status) }, value);
      observe(method, route, status, value);
    }
    expect(await snapshot(fast)).toEqual(await snapshot(reference));
    expect((await snapshot(fast)).length).toBeGreaterThan(100);
  });

  it('follows reset(), remove() and zero(): no count goes to an entry prom-client no longer holds', async () => {
    const { reference, fast, observe } = pair();
    const stream = [...requests(4000)];
    const apply = (from: number, to: number) => {
      for (const { method, route, status, value } of stream.slice(from, to)) {
        reference.observe({ method, route, status_code: statusLabel(status) }, value);
        observe(method, route, status, value);
      }
    };
    apply(0, 1000);
    for (const h of [reference, fast]) h.reset();
    apply(1000, 2000);
    const gone = stream[1500] as (typeof stream)[number];
    const labels = { method: gone.method, route: gone.route, status_code: statusLabel(gone.status) };
    for (const h of [reference, fast]) h.remove(labels);
    apply(2000, 3000);
    for (const h of [reference, fast]) h.zero(labels);
    apply(3000, 4000);
    expect(await snapshot(fast)).toEqual(await snapshot(reference));
  });

  it("follows a registry's resetMetrics()", async () => {
    const registry = new Registry();
    const h = new Histogram({
      name: 'r_seconds',
      help: 'r',
      labelNames: ['method', 'route', 'status_code'],
      buckets: [1],
      registers: [registry],
    });
    const observe = httpObserver(h);
    for (let i = 0; i < 3; i++) observe('GET', '/x', 200, 0.5);
    registry.resetMetrics();
    observe('GET', '/x', 200, 0.5);
    expect(await registry.metrics()).toContain('r_seconds_count{method="GET",route="/x",status_code="200"} 1');
  });

  it('rejects a value that is not a finite number as prom-client does, and records nothing for it', async () => {
    const { fast, observe } = pair();
    observe('GET', '/a', 200, 0.5);
    expect(() => observe('GET', '/a', 200, Number.NaN)).toThrow(/not a valid number/);
    expect((await snapshot(fast)).find((v) => v.metricName === 'h_seconds_count')?.value).toBe(1);
  });

  it('goes through prom-client for a histogram with other labels', async () => {
    const { fast, observe } = pair(['method', 'route', 'status_code', 'tenant']);
    observe('GET', '/a', 200, 0.5); // prom-client allows a missing label; the series has no tenant
    observe('GET', '/a', 200, 0.5);
    expect((await snapshot(fast)).find((v) => v.metricName === 'h_seconds_count')).toMatchObject({
      labels: { method: 'GET', route: '/a', status_code: '200' },
      value: 2,
    });
  });
});
