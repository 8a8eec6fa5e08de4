import { mkdirSync } from 'node:fs';
import fc from 'fast-check';
import { Counter, Gauge, Histogram, Registry, Summary } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { type MetricsStore, openStore } from './index.js';
import { removeTempDirs, tempDir } from './test-support/children.js';
import { parseExposition, type Sample, sampleValue } from './test-support/exposition.js';
import {
  havePromtool,
  havePythonOpenMetrics,
  openMetricsProblems,
  promtoolProblems,
  pythonOpenMetricsProblems,
} from './test-support/validate.js';

afterAll(removeTempDirs);

const quiet = { warn() {} };

/** A store in a fresh directory with this registry attached (this test process is the writer). */
function storeWith(registry: Registry): MetricsStore {
  const store = openStore({
    dir: tempDir().dir,
    flushIntervalMs: 3_600_000,
    logger: quiet,
  });
  store.attach(registry);
  return store;
}

const sorted = (samples: Sample[]) =>
  samples.map((s) => `${s.name}${JSON.stringify(Object.entries(s.labels).sort())} ${s.value}`).sort();

describe('the validators used here', () => {
  it('reject broken expositions (so that passing them means something)', () => {
    const badEscape = '# HELP a_total x\n# TYPE a_total counter\na_total{x="\\q"} 1\n';
    expect(() => parseExposition(badEscape)).toThrow(/bad escape/);
    if (havePromtool()) expect(promtoolProblems(badEscape, { lint: false })).toHaveLength(1);
    expect(openMetricsProblems('# HELP a x\n# TYPE a counter\na_total 1\n')).toContain(
      'OpenMetrics exposition does not end with "# EOF"',
    );
    const unordered =
      '# HELP h x\n# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_count 1\nh_sum 1\n# EOF\n';
    expect(openMetricsProblems(unordered, { python: false })).toEqual(['h[] buckets not cumulative']);
    if (havePythonOpenMetrics()) expect(pythonOpenMetricsProblems([unordered])).toHaveLength(1);
  });
});

describe('an empty store', () => {
  it('yields a valid, empty exposition in both formats', async () => {
    const { dir } = tempDir();
    const store = openStore({ dir, logger: quiet });
    expect(await store.metrics()).toBe('');
    expect(await store.metrics({ format: 'openmetrics' })).toBe('# EOF\n');
    expect(openMetricsProblems('# EOF\n')).toEqual([]);
    if (havePromtool()) expect(promtoolProblems('')).toEqual([]);
    expect(store.health()).toMatchObject({
      liveWriters: 0,
      deadWriters: 0,
      flushFailures: 0,
      conflicts: [],
    });
    store.close();
  });

  it('stays empty when a writer attached a registry with nothing in it', async () => {
    const dir = tempDir().dir;
    mkdirSync(dir, { mode: 0o700 });
    const store = openStore({ dir, logger: quiet });
    store.attach(new Registry());
    expect(store.flush()).toBe(true);
    expect(await store.metrics()).toBe('');
    store.close();
  });
});

describe('the exposition of one process', () => {
  it('says what prom-client itself says, except summary quantiles (only _sum and _count)', async () => {
    const registry = new Registry();
    const requests = new Counter({
      name: 'http_requests_total',
      help: 'Requests "served"\\ by us\nsecond line',
      labelNames: ['code'],
      registers: [registry],
    });
    const inFlight = new Gauge({
      name: 'in_flight_requests',
      help: 'In flight',
      registers: [registry],
    });
    const size = new Histogram({
      name: 'response_size_bytes',
      help: 'Size',
      labelNames: ['route'],
      buckets: [10, 100, 1000],
      registers: [registry],
    });
    const latency = new Summary({
      name: 'latency_seconds',
      help: 'Latency',
      percentiles: [0.5, 0.9],
      registers: [registry],
    });
    requests.inc({ code: '200' }, 5);
    requests.inc({ code: '500' });
    inFlight.set(3);
    for (const v of [5, 50, 500, 5000, 100]) size.observe({ route: '/r' }, v);
    for (const v of [0.25, 0.5, 2]) latency.observe(v);
    const store = storeWith(registry);
    expect(store.flush()).toBe(true);

    const text = await store.metrics();
    const ours = parseExposition(text);
    const theirs = parseExposition(await registry.metrics());
    const noQuantiles = (s: Sample) => !('quantile' in s.labels);
    expect(sorted(ours.samples)).toEqual(sorted(theirs.samples.filter(noQuantiles)));
    expect(ours.families.map((f) => [f.name, f.type, f.help])).toEqual(
      theirs.families.map((f) => [f.name, f.type, f.help]),
    );
    expect(sampleValue(ours, 'latency_seconds_count')).toBe(3);
    expect(sampleValue(ours, 'latency_seconds_sum')).toBe(2.75);
    expect(text).toContain('# HELP http_requests_total Requests "served"\\\\ by us\\nsecond line\n');
    if (havePromtool()) expect(promtoolProblems(text)).toEqual([]);

    const om = await store.metrics({ format: 'openmetrics' });
    expect(openMetricsProblems(om)).toEqual([]);
    expect(om).toContain('# TYPE http_requests counter\nhttp_requests_total{code="200"} 5\n');
    expect(om).toContain('# HELP http_requests Requests \\"served\\"\\\\ by us\\nsecond line\n');
    expect(sorted(parseExposition(om, true).samples)).toEqual(sorted(ours.samples));
    store.close();
  });

  it('names a counter without _total correctly in OpenMetrics, and keeps registry default labels', async () => {
    const registry = new Registry();
    registry.setDefaultLabels({ service: 'api' });
    new Counter({
      name: 'jobs',
      help: 'Jobs',
      labelNames: ['queue'],
      registers: [registry],
    }).inc({ queue: 'q' }, 2);
    const store = storeWith(registry);
    expect(store.flush()).toBe(true);
    const om = await store.metrics({ format: 'openmetrics' });
    expect(om).toBe('# HELP jobs Jobs\n# TYPE jobs counter\njobs_total{queue="q",service="api"} 2\n# EOF\n');
    expect(openMetricsProblems(om)).toEqual([]);
    expect(await store.metrics()).toBe('# HELP jobs Jobs\n# TYPE jobs counter\njobs{queue="q",service="api"} 2\n');
    store.close();
  });
});

describe('label values survive the store and the exposition exactly', () => {
  // Quotes, backslashes, newlines, tabs, carriage returns, characters that delimit labels, non-ASCII
  // (any code point, astral ones included), mixed freely; and values of 10 KB.
  const special = fc.constantFrom(
    '"',
    '\\',
    '\n',
    '\t',
    '\r',
    '}',
    '{',
    ',',
    '=',
    '#',
    ' ',
    'é',
    '日本',
    '🙂',
    '\u0000',
  );
  const char = fc.oneof(special, fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }));
  const short = fc.string({ unit: char, maxLength: 40 });
  // 10 KB and more: a random chunk repeated (generating 10 000 random characters per value is slow).
  const long = fc
    .string({ unit: char, minLength: 1, maxLength: 40 })
    .map((s) => s.repeat(Math.ceil(10_240 / s.length)));
  const value = fc.oneof({ arbitrary: short, weight: 4 }, { arbitrary: long, weight: 1 });
  const labelSets = fc.uniqueArray(fc.tuple(value, value), {
    minLength: 1,
    maxLength: 4,
    selector: (t) => JSON.stringify(t),
  });

  async function roundTrip(sets: Array<[string, string]>, format: 'prometheus' | 'openmetrics') {
    const registry = new Registry();
    const counter = new Counter({
      name: 'odd_labels_total',
      help: 'c',
      labelNames: ['a', 'b'],
      registers: [registry],
    });
    const hist = new Histogram({
      name: 'odd_labels_seconds',
      help: 'h',
      labelNames: ['a', 'b'],
      buckets: [1],
      registers: [registry],
    });
    const gauge = new Gauge({
      name: 'odd_labels_current',
      help: 'g',
      labelNames: ['a', 'b'],
      multiprocessMode: 'all',
      registers: [registry],
    });
    sets.forEach(([a, b], i) => {
      counter.inc({ a, b }, i + 1);
      hist.observe({ a, b }, 0.5);
      gauge.set({ a, b }, i);
    });
    const store = storeWith(registry);
    expect(store.flush()).toBe(true);
    const text = await store.metrics({ format });
    store.close();
    const exp = parseExposition(text, format === 'openmetrics');
    sets.forEach(([a, b], i) => {
      expect(sampleValue(exp, 'odd_labels_total', { a, b })).toBe(i + 1);
      expect(sampleValue(exp, 'odd_labels_seconds_bucket', { a, b, le: '+Inf' })).toBe(1);
      expect(
        sampleValue(exp, 'odd_labels_current', {
          a,
          b,
          pid: String(process.pid),
        }),
      ).toBe(i);
    });
    expect(exp.samples.filter((s) => s.name === 'odd_labels_total')).toHaveLength(sets.length);
    return text;
  }

  it('in the Prometheus text format (and promtool reads them)', async () => {
    await fc.assert(
      fc.asyncProperty(labelSets, async (sets) => {
        const text = await roundTrip(sets, 'prometheus');
        if (havePromtool()) expect(promtoolProblems(text)).toEqual([]);
      }),
      { numRuns: 30 },
    );
  });

  it("in OpenMetrics (and the Python client's parser reads them)", async () => {
    const texts: string[] = [];
    await fc.assert(
      fc.asyncProperty(labelSets, async (sets) => {
        const text = await roundTrip(sets, 'openmetrics');
        expect(openMetricsProblems(text, { python: false })).toEqual([]);
        texts.push(text);
      }),
      { numRuns: 40 },
    );
    expect(pythonOpenMetricsProblems(texts)).toEqual([]);
  });
});
