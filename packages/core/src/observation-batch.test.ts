import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { defineHttpMetrics } from './http-metrics.js';
import { httpObserver } from './http-observer.js';
import { statusLabel } from './labels.js';
import { batched } from './observation-batch.js';

/** The duration histogram as the recorder gets it, batched, next to a plain prom-client reference. */
function pair() {
  const registry = new Registry();
  const { duration } = defineHttpMetrics(registry, {
    prefix: '',
    buckets: [0.01, 0.1, 1],
    extraLabelNames: [],
    requestSizes: false,
    responseSizes: false,
  });
  const reference = new Histogram({
    name: 'reference_seconds',
    help: 'r',
    labelNames: ['method', 'route', 'status_code'],
    buckets: [0.01, 0.1, 1],
    registers: [],
  });
  return { registry, duration, reference, observe: batched(duration, httpObserver(duration)) };
}

const values = async (h: Histogram<string>) =>
  (await h.get()).values.map((v) => ({ ...v, metricName: v.metricName?.replace(/^[a-z_]+?_seconds/, 'h') }));

describe('batched observations', () => {
  it('are all visible to every read, however few arrived since the last one', async () => {
    const { registry, observe } = pair();
    observe('GET', '/a', 200, 0.05);
    expect(await registry.metrics()).toContain(
      'http_request_duration_seconds_count{method="GET",route="/a",status_code="200"} 1',
    );
    for (let i = 0; i < 300; i++) observe('GET', '/a', 200, 0.05); // one full batch and 44 waiting
    expect(await registry.metrics()).toContain(
      'http_request_duration_seconds_count{method="GET",route="/a",status_code="200"} 301',
    );
  });

  it('leave the histogram as prom-client would, with reads, reset(), remove() and zero() in between', async () => {
    const { duration, reference, observe } = pair();
    let seed = 3;
    const next = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed;
    };
    for (let i = 0; i < 5000; i++) {
      const method = ['GET', 'POST'][next() % 2] as string;
      const route = `/r${next() % 5}`;
      const status = [200, 404, 500][next() % 3] as number;
      const value = [0.001, 0.05, 0.5, 5][next() % 4] as number;
      reference.observe({ method, route, status_code: statusLabel(status) }, value);
      observe(method, route, status, value);
      const action = next() % 1000;
      const labels = { method, route, status_code: statusLabel(status) };
      if (action === 0) for (const h of [duration, reference]) h.reset();
      else if (action === 1) for (const h of [duration, reference]) h.remove(labels);
      else if (action === 2) for (const h of [duration, reference]) h.zero(labels);
      else if (action < 20) expect(await values(duration)).toEqual(await values(reference));
    }
    expect(await values(duration)).toEqual(await values(reference));
  });

  it('go straight to a histogram defined elsewhere, whose collect() would not apply them', async () => {
    const foreign = new Histogram({
      name: 'f_seconds',
      help: 'f',
      labelNames: ['method', 'route', 'status_code'],
      registers: [],
    });
    const observe = batched(foreign, httpObserver(foreign));
    observe('GET', '/a', 200, 0.05);
    expect(
      Object.values((foreign as unknown as { hashMap: Record<string, { count: number }> }).hashMap)[0]?.count,
    ).toBe(1);
  });

  it('reject a value that is not a finite number at once, as prom-client does', () => {
    const { observe } = pair();
    expect(() => observe('GET', '/a', 200, Number.NaN)).toThrow(/not a valid number/);
  });
});
