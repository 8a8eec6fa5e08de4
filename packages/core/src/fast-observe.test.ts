import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { fastObserver } from './fast-observe.js';

const BUCKETS = [0.005, 0.01, 0.1, 1, 10];
const LABELS = ['method', 'route', 'status_code'];

function pair(config: Partial<ConstructorParameters<typeof Histogram>[0]> = {}) {
  const make = () =>
    new Histogram({ name: 'h_seconds', help: 'h', labelNames: LABELS, buckets: BUCKETS, registers: [], ...config });
  const reference = make();
  const fast = make();
  return { reference, fast, observe: fastObserver(fast) };
}

/** A deterministic stream of label sets and values: repeats, bounds exactly, above the last bound, zero. */
function* observations(n: number) {
  let seed = 7;
  const next = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed;
  };
  const values = [0, 0.005, 0.0051, 0.01, 0.5, 1, 10, 10.0001, 1e6, 0.25];
  for (let i = 0; i < n; i++) {
    yield {
      labels: {
        method: ['GET', 'POST'][next() % 2] as string,
        route: `/api/r${next() % 7}/:id`,
        status_code: ['200', '404', '500'][next() % 3] as string,
      },
      value: values[next() % values.length] as number,
    };
  }
}

const snapshot = async (h: Histogram<string>) => (await h.get()).values;

describe('fastObserver', () => {
  it('leaves a histogram exactly as prom-client observe() would, bucket by bucket', async () => {
    const { reference, fast, observe } = pair();
    for (const { labels, value } of observations(5000)) {
      reference.observe(labels, value);
      observe(labels, value);
    }
    expect(await snapshot(fast)).toEqual(await snapshot(reference));
    expect((await snapshot(fast)).length).toBeGreaterThan(40); // many series, not one
  });

  it('follows reset() and remove(): counts restart, nothing is written to a dropped entry', async () => {
    const { reference, fast, observe } = pair();
    const stream = [...observations(3000)];
    const apply = (from: number, to: number) => {
      for (const { labels, value } of stream.slice(from, to)) {
        reference.observe(labels, value);
        observe(labels, value);
      }
    };
    apply(0, 1000);
    reference.reset();
    fast.reset();
    apply(1000, 2000);
    const gone = stream[1500]?.labels as Record<string, string>;
    reference.remove(gone);
    fast.remove(gone);
    apply(2000, 3000);
    expect(await snapshot(fast)).toEqual(await snapshot(reference));
  });

  it('rejects a value that is not a finite number as prom-client does, and records nothing for it', async () => {
    const { fast, observe } = pair();
    const labels = { method: 'GET', route: '/a', status_code: '200' };
    observe(labels, 0.5);
    expect(() => observe(labels, Number.NaN)).toThrow(/not a valid number/);
    expect(() => observe(labels, Number.POSITIVE_INFINITY)).toThrow(/not a valid number/);
    const count = (await snapshot(fast)).find((v) => v.metricName === 'h_seconds_count');
    expect(count?.value).toBe(1);
  });

  it('goes through prom-client for histograms with exemplars, a label-less histogram and unknown label names', async () => {
    const withExemplars = new Histogram({
      name: 'e_seconds',
      help: 'e',
      labelNames: LABELS,
      buckets: BUCKETS,
      enableExemplars: true,
      registers: [],
    });
    const observe = fastObserver(withExemplars);
    expect(() => observe({ method: 'GET', route: '/a', status_code: '200' }, 0.5)).toThrow(); // prom-client wants { labels, value }

    const plain = new Histogram({ name: 'p_seconds', help: 'p', buckets: BUCKETS, registers: [] });
    const observePlain = fastObserver(plain);
    for (const v of [0.001, 0.5, 0.5, 20]) observePlain({}, v);
    const values = await snapshot(plain);
    expect(values.find((v) => v.metricName === 'p_seconds_count')?.value).toBe(4);
    expect(values.find((v) => v.labels.le === 1)?.value).toBe(3);

    const { observe: strict } = pair();
    expect(() => strict({ method: 'GET', route: '/a', status_code: '200', extra: 'x' }, 1)).toThrow(/extra/);
  });

  it('is registered like any histogram: the registry renders what was observed', async () => {
    const registry = new Registry();
    const h = new Histogram({
      name: 'r_seconds',
      help: 'r',
      labelNames: ['route'],
      buckets: [1],
      registers: [registry],
    });
    const observe = fastObserver(h);
    observe({ route: '/x' }, 0.5);
    observe({ route: '/x' }, 2);
    const text = await registry.metrics();
    expect(text).toContain('r_seconds_bucket{le="1",route="/x"} 1');
    expect(text).toContain('r_seconds_bucket{le="+Inf",route="/x"} 2');
    expect(text).toContain('r_seconds_sum{route="/x"} 2.5');
  });
});
