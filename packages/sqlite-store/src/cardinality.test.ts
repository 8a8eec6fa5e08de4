import { Counter, Histogram, Registry } from 'prom-client';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { attachFromEnv, openStore } from './index.js';
import { type Child, captureLogger, killAll, removeTempDirs, startWorker, tempDir } from './test-support/children.js';
import { parseExposition, samplesOf } from './test-support/exposition.js';
import { havePromtool, openMetricsProblems, promtoolProblems } from './test-support/validate.js';

// Issue 16 §2: a per-metric bound on stored series, the rest folded into one kci_overflow="true" series.

afterEach(killAll);
afterAll(removeTempDirs);

const quiet = { warn() {} };
const BUCKETS = [0.1, 1, 10];

/** Two real writer processes with PROMETHEUS_METRICS_MAX_SERIES=50, each flooding the same metrics. */
async function twoFlooders(dir: string): Promise<[Child, Child]> {
  const env = { ...process.env, PROMETHEUS_METRICS_MAX_SERIES: '50' };
  const script = [
    { op: 'define', kind: 'counter', config: { name: 'hits_total', help: 'h', labelNames: ['user', 'method'] } },
    {
      op: 'define',
      kind: 'histogram',
      config: { name: 'lat_seconds', help: 'l', labelNames: ['url'], buckets: BUCKETS, maxSeries: 20 },
    },
    { op: 'define', kind: 'gauge', config: { name: 'temp', help: 't', labelNames: ['id'], multiprocessMode: 'sum' } },
  ];
  return Promise.all([startWorker({ dir, script }, { env }), startWorker({ dir, script }, { env })]) as Promise<
    [Child, Child]
  >;
}

/** Label values: `own` distinct to each process (prefix), and `shared` ones both processes record. */
async function flood(w: Child, prefix: string, own: number, shared: number, value: number): Promise<void> {
  for (const [p, count] of [
    [prefix, own],
    ['shared-', shared],
  ] as const) {
    await w.call('flood', {
      name: 'hits_total',
      record: 'inc',
      label: 'user',
      prefix: p,
      count,
      value,
      labels: { method: 'GET' },
    });
    await w.call('flood', { name: 'lat_seconds', record: 'observe', label: 'url', prefix: p, count, value: value / 4 });
    await w.call('flood', { name: 'temp', record: 'set', label: 'id', prefix: p, count, value });
  }
}

describe('a label flood in two writer processes', () => {
  it('is bounded host-wide, keeps every total exact, and the overflow series is valid exposition', async () => {
    const { dir } = tempDir();
    const [a, b] = await twoFlooders(dir);
    // 300 + 300 own label sets and 20 shared ones, recorded 3 (a) and 5 (b) at a time.
    await flood(a, 'a-', 300, 20, 3);
    await flood(b, 'b-', 300, 20, 5);
    // Both race for the last free rows: the database's write lock serialises them.
    await Promise.all([a.call('flush'), b.call('flush')]);
    // A second round on label sets already folded (and on admitted ones): added, never counted twice.
    await flood(a, 'a-', 300, 20, 3);
    await Promise.all([a.call('flush'), b.call('flush')]);

    const store = openStore({ dir, logger: quiet });
    const text = await store.metrics();
    const exp = parseExposition(text);

    const hits = samplesOf(exp, 'hits_total');
    expect(hits).toHaveLength(50); // 49 label sets of its own + the overflow series
    const total = hits.reduce((n, s) => n + s.value, 0);
    expect(total).toBe(2 * 320 * 3 + 320 * 5);
    const overflow = hits.filter((s) => s.labels.kci_overflow !== undefined);
    expect(overflow.map((s) => s.labels)).toEqual([{ kci_overflow: 'true' }]);

    // The histogram's own maxSeries (20) wins over the variable; its overflow series has the bucket-wise sum.
    const counts = samplesOf(exp, 'lat_seconds_count');
    expect(counts).toHaveLength(20);
    expect(counts.reduce((n, s) => n + s.value, 0)).toBe(3 * 320);
    expect(samplesOf(exp, 'lat_seconds_sum').reduce((n, s) => n + s.value, 0)).toBeCloseTo(
      2 * 320 * 0.75 + 320 * 1.25,
      9,
    );
    const buckets = samplesOf(exp, 'lat_seconds_bucket');
    const inBucket = (le: string) => buckets.filter((s) => s.labels.le === le).reduce((n, s) => n + s.value, 0);
    expect(inBucket('0.1')).toBe(0); // 0.75 and 1.25 are above 0.1
    expect(inBucket('1')).toBe(2 * 320); // process a's 0.75, twice
    expect(inBucket('10')).toBe(3 * 320);
    expect(inBucket('+Inf')).toBe(3 * 320);
    expect(buckets.filter((s) => s.labels.kci_overflow === 'true').map((s) => Object.keys(s.labels).sort())).toEqual(
      BUCKETS.map(() => ['kci_overflow', 'le']).concat([['kci_overflow', 'le']]),
    );

    // Gauges beyond the bound are dropped (a sum of unrelated gauges means nothing): no overflow series.
    const temps = samplesOf(exp, 'temp');
    expect(temps).toHaveLength(49);
    expect(temps.some((s) => s.labels.kci_overflow !== undefined)).toBe(false);

    // Where operators look: health() (the aggregator's metric) names each metric and its folded label sets.
    const overflows = Object.fromEntries(store.health().seriesOverflows.map((o) => [o.metric, o.series]));
    // Label sets counted once per process that folded them: 640 recorded per metric, a few admitted.
    expect(overflows.hits_total).toBe(640 - 49);
    expect(overflows.lat_seconds).toBe(640 - 19);
    expect(overflows.temp).toBe(640 - 49);
    // One log line per metric, by the writer that folded its first label set.
    const lines = (w: Child, metric: string) =>
      w
        .stderr()
        .split('\n')
        .filter((l) => l.includes(`metric ${metric} reached its limit`));
    for (const [metric, limit] of [
      ['hits_total', 50],
      ['lat_seconds', 20],
      ['temp', 50],
    ] as const) {
      const all = [...lines(a, metric), ...lines(b, metric)];
      expect(all, metric).toHaveLength(1);
      expect(all[0]).toContain(`limit of ${limit} stored series`);
    }

    const om = await store.metrics({ format: 'openmetrics' });
    expect(openMetricsProblems(om)).toEqual([]);
    if (havePromtool()) expect(promtoolProblems(text)).toEqual([]);
    store.close();
  });
});

describe('the bound in one process', () => {
  it('admits series again up to the bound after a definition change, and counts from zero', async () => {
    const { dir } = tempDir();
    const registry = new Registry();
    const c = new Counter({ name: 'c_total', help: 'c', labelNames: ['k'], registers: [registry], maxSeries: 3 });
    const store = openStore({ dir, logger: quiet });
    store.attach(registry);
    for (let i = 0; i < 10; i++) c.inc({ k: String(i) }, i);
    store.flush();
    const first = samplesOf(parseExposition(await store.metrics()), 'c_total');
    expect(first.map((s) => s.labels)).toEqual([{ k: '0' }, { k: '1' }, { kci_overflow: 'true' }]);
    expect(first.reduce((n, s) => n + s.value, 0)).toBe(45);
    expect(store.health().seriesOverflows).toEqual([{ metric: 'c_total', series: 8 }]);
    store.close();

    // A new definition (other labels) replaces the old one: its series start over, so do the counts.
    const r2 = new Registry();
    const d = new Counter({ name: 'c_total', help: 'c', labelNames: ['j'], registers: [r2], maxSeries: 3 });
    const s2 = openStore({ dir, logger: quiet });
    s2.attach(r2);
    d.inc({ j: 'x' });
    s2.flush();
    expect(samplesOf(parseExposition(await s2.metrics()), 'c_total').map((s) => s.labels)).toEqual([{ j: 'x' }]);
    expect(s2.health().seriesOverflows).toEqual([]);
    s2.close();
  });

  it('folds a flood of 100000 label values in one flush, counter and histogram, with exact totals', async () => {
    const { dir } = tempDir();
    const registry = new Registry();
    const c = new Counter({ name: 'f_total', help: 'f', labelNames: ['u'], registers: [registry], maxSeries: 10 });
    const h = new Histogram({
      name: 'f_seconds',
      help: 'f',
      labelNames: ['u'],
      buckets: [1],
      registers: [registry],
      maxSeries: 10,
    });
    for (let i = 0; i < 100_000; i++) {
      c.inc({ u: `u${i}` }, 2);
      h.observe({ u: `u${i}` }, i % 2 === 0 ? 0.5 : 5);
    }
    const store = openStore({ dir, logger: quiet });
    store.attach(registry);
    expect(store.flush()).toBe(true);
    const exp = parseExposition(await store.metrics());
    expect(samplesOf(exp, 'f_total')).toHaveLength(10);
    expect(samplesOf(exp, 'f_total').reduce((n, s) => n + s.value, 0)).toBe(200_000);
    const overflowBucket = (le: string) =>
      samplesOf(exp, 'f_seconds_bucket').find((s) => s.labels.kci_overflow === 'true' && s.labels.le === le)?.value;
    expect(overflowBucket('1')).toBe(49_995); // u0..u8 admitted; the even ones of u9..u99999 are below 1
    expect(overflowBucket('+Inf')).toBe(100_000 - 9);
    expect(samplesOf(exp, 'f_seconds_count').reduce((n, s) => n + s.value, 0)).toBe(100_000);
    store.close();
  });

  it('uses the default for an invalid maxSeries on a metric, and says so once', async () => {
    const { dir } = tempDir();
    const { warnings, logger } = captureLogger();
    const registry = new Registry();
    const c = new Counter({
      name: 'bad_total',
      help: 'b',
      labelNames: ['k'],
      registers: [registry],
      maxSeries: 'ten' as unknown as number,
    });
    const store = openStore({ dir, logger });
    store.attach(registry);
    c.inc({ k: 'a' });
    store.flush();
    c.inc({ k: 'b' });
    store.flush();
    expect(warnings.filter((w) => w.includes('invalid maxSeries "ten"'))).toEqual([
      'metric bad_total: invalid maxSeries "ten": expected an integer 1-10000000; using 2000',
    ]);
    expect(samplesOf(parseExposition(await store.metrics()), 'bad_total')).toHaveLength(2);
    store.close();
  });
});

describe('PROMETHEUS_METRICS_MAX_SERIES', () => {
  it.each(['abc', '0', '-5', '2.5', '10000001'])(
    'refuses %j with an error naming the variable and the value',
    (raw) => {
      const env = { PROMETHEUS_METRICS_ENABLED: 'true', PROMETHEUS_MULTIPROC_DIR: tempDir().dir };
      expect(() => attachFromEnv(new Registry(), { env: { ...env, PROMETHEUS_METRICS_MAX_SERIES: raw } })).toThrow(
        `Invalid PROMETHEUS_METRICS_MAX_SERIES "${raw}": expected an integer 1-10000000 (series per metric, the overflow series included)`,
      );
    },
  );

  it('is refused by a worker at start-up, before anything is recorded', async () => {
    const { dir } = tempDir();
    const env = { ...process.env, PROMETHEUS_METRICS_MAX_SERIES: 'lots' };
    await expect(startWorker({ dir }, { env })).rejects.toThrow(/Invalid PROMETHEUS_METRICS_MAX_SERIES "lots"/);
  });

  it('applies the value of attachFromEnv()’s own environment', async () => {
    const { dir } = tempDir();
    const registry = new Registry();
    const c = new Counter({ name: 'e_total', help: 'e', labelNames: ['k'], registers: [registry] });
    const env = {
      PROMETHEUS_METRICS_ENABLED: 'true',
      PROMETHEUS_MULTIPROC_DIR: dir,
      PROMETHEUS_METRICS_MAX_SERIES: '2',
    };
    const store = attachFromEnv(registry, { env, logger: quiet });
    for (let i = 0; i < 5; i++) c.inc({ k: String(i) });
    store?.flush();
    const reader = openStore({ dir, logger: quiet });
    expect(samplesOf(parseExposition(await reader.metrics()), 'e_total').map((s) => s.labels)).toEqual([
      { k: '0' },
      { kci_overflow: 'true' },
    ]);
    reader.close();
    store?.close();
  });
});
