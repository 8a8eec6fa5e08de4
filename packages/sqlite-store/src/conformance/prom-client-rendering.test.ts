import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killAll, removeTempDirs, tempDir } from '../test-support/children.js';
import {
  call,
  define,
  flush,
  num,
  type Op,
  type Scrape,
  scrape,
  startWriter,
  value,
  type Writer,
} from './support/harness.js';

/**
 * prom-client 15.1.3's own tests (github.com/siimon/prom-client, tag v15.1.3): the rendering cases of
 * test/registerTest.js and the metric cases of counterTest.js, gaugeTest.js, histogramTest.js and
 * summaryTest.js that concern what is exposed, on one writer process; the aggregation cases of
 * test/clusterTest.js on two writer processes. Each case is named after the prom-client test it ports.
 * prom-client's collectors (`registerMetric({ get() })`) are written as real metrics here: the store
 * stores prom-client metrics, not collectors (issue 13, section 2).
 *
 * Normalisations, each a documented difference of the store (packages/sqlite-store/README.md):
 * - summaries have no quantile samples (quantiles cannot be merged across processes);
 * - counters, histograms and summaries keep their totals across reset()/remove()/resetMetrics();
 * - the text format has no blank line between families (prom-client's has one; both are valid);
 * - label order: declared labels first, then default labels (prom-client puts `le` first in histograms;
 *   the values are compared as label sets where prom-client's order differs);
 * - NaN is written `NaN`, Prometheus's spelling (prom-client writes `Nan`, which Prometheus also reads);
 * - clusterTest: prom-client's `aggregator` setting maps to a live gauge mode (`omit` → livemin,
 *   `average` → livemax), so those two gauges are present / the maximum where prom-client omits / averages.
 *
 * Not ported: validation and API errors that prom-client throws in the application before anything
 * reaches the store (invalid names, label counts, negative counter increments, content types), timers
 * and setToCurrentTime (clock values), exemplars (exemplars.test.ts compares them with prom-client's own), getMetricsAsJSON, pushgateway,
 * the sliding-window quantile tests (no quantiles), and clusterTest's listener-count cases (node:cluster
 * is not used by the store).
 */

const TEST_METRIC: Op[] = [
  define('counter', { name: 'test_metric', help: 'A test metric', labelNames: ['label', 'code'] }),
  call('test_metric', 'inc', { label: 'hello', code: '303' }, 12),
  call('test_metric', 'inc', { label: 'bye', code: '404' }, 34),
];

let single: Scrape;
let zeros: Scrape;
let cluster: Scrape;
let empty: Scrape;
let w: Writer;

/** The lines of one family's block in an exposition: from its # HELP to the next family. */
function block(text: string, family: string): string[] {
  const lines = text.split('\n');
  const start = lines.indexOf(lines.find((l) => l.startsWith(`# HELP ${family} `)) ?? '\u0000');
  if (start < 0) return [];
  const end = lines.findIndex((l, i) => i > start + 1 && l.startsWith('# HELP '));
  return lines.slice(start, end < 0 ? undefined : end).filter((l) => l !== '' && l !== '# EOF');
}

beforeAll(async () => {
  const dir = tempDir().dir;
  const zerosDir = tempDir().dir;
  const clusterDir = tempDir().dir;
  // Started together: a process start is most of this file's time.
  const [main, defaults, development, resetting, z, a, b] = await Promise.all([
    startWriter(dir),
    startWriter(dir, { testLabel: 'testValue' }),
    startWriter(dir, { env: 'development' }),
    startWriter(dir),
    startWriter(zerosDir),
    startWriter(clusterDir),
    startWriter(clusterDir),
  ]);
  w = main;
  const k = { k: 'x' };
  await w.run([
    ...TEST_METRIC,
    define('gauge', { name: 'nan_gauge', help: 'A test metric' }),
    define('gauge', { name: 'pinf_gauge', help: 'A test metric' }),
    define('gauge', { name: 'ninf_gauge', help: 'A test metric' }),
    call('nan_gauge', 'set', num(Number.NaN)),
    call('pinf_gauge', 'set', num(Number.POSITIVE_INFINITY)),
    call('ninf_gauge', 'set', num(Number.NEGATIVE_INFINITY)),
    define('counter', { name: 'no_labels', help: 'A test metric' }),
    call('no_labels', 'inc'),
    define('counter', { name: 'escaped', help: 'A test metric', labelNames: ['label', 'code'] }),
    call('escaped', 'inc', { label: 'hello', code: '3"03' }, 12),
    define('counter', { name: 'lab_counter', help: 'help', labelNames: ['label'] }),
    define('gauge', { name: 'lab_gauge', help: 'help', labelNames: ['label'] }),
    define('histogram', { name: 'lab_histogram', help: 'help', labelNames: ['label'] }),
    define('summary', { name: 'lab_summary', help: 'help', labelNames: ['label'] }),
    define('gauge', { name: 'kept_gauge', help: 'A test metric' }),
    define('gauge', { name: 'removed_single', help: 'A test metric' }),
    call('kept_gauge', 'set', 1),
    call('removed_single', 'set', 1),
    // counterTest.js
    define('counter', { name: 'c_inc', help: 'h' }),
    call('c_inc', 'inc'),
    define('counter', { name: 'c_value', help: 'h' }),
    call('c_value', 'inc', 100),
    define('counter', { name: 'c_zero', help: 'h' }),
    call('c_zero', 'inc', 0),
    define('counter', { name: 'c_init', help: 'h' }),
    define('counter', { name: 'c_labels', help: 'h', labelNames: ['method', 'endpoint'] }),
    call('c_labels', 'inc', { method: 'GET', endpoint: '/test' }),
    call('c_labels', 'inc', { method: 'POST', endpoint: '/test' }, 100),
    { op: 'call', name: 'c_labels', method: 'inc', labels: { method: 'GET', endpoint: '/test' }, args: [2] },
    define('counter', { name: 'c_remove', help: 'h', labelNames: ['method', 'endpoint'] }),
    call('c_remove', 'inc', { method: 'GET', endpoint: '/test' }),
    call('c_remove', 'inc', { method: 'POST', endpoint: '/test' }),
    define('counter', { name: 'c_reset', help: 'h' }),
    call('c_reset', 'inc', 12),
    // gaugeTest.js
    define('gauge', { name: 'g_ops', help: 'h' }),
    call('g_ops', 'set', 10),
    call('g_ops', 'inc'),
    call('g_ops', 'inc', 5),
    call('g_ops', 'dec'),
    call('g_ops', 'dec', 2),
    define('gauge', { name: 'g_set_zero', help: 'h' }),
    call('g_set_zero', 'set', 10),
    call('g_set_zero', 'set', 0),
    define('gauge', { name: 'g_inc_zero', help: 'h' }),
    call('g_inc_zero', 'inc', 0),
    define('gauge', { name: 'g_init', help: 'h' }),
    define('gauge', { name: 'g_labels', help: 'h', labelNames: ['code'] }),
    call('g_labels', 'inc', { code: '200' }),
    call('g_labels', 'inc', { code: '200' }),
    call('g_labels', 'dec', { code: '404' }),
    call('g_labels', 'set', { code: '500' }, 500),
    define('gauge', { name: 'g_remove', help: 'h', labelNames: ['code'] }),
    call('g_remove', 'set', { code: '200' }, 1),
    call('g_remove', 'set', { code: '404' }, 2),
    define('gauge', { name: 'g_reset', help: 'h', labelNames: ['code'] }),
    call('g_reset', 'set', { code: '200' }, 1),
    define('gauge', { name: 'g_reset_nolabels', help: 'h' }),
    call('g_reset_nolabels', 'set', 12),
    // histogramTest.js
    define('histogram', { name: 'h_count', help: 'h' }),
    call('h_count', 'observe', 0.5),
    call('h_count', 'observe', 0.5),
    define('histogram', { name: 'h_zero_obs', help: 'h' }),
    call('h_zero_obs', 'observe', 0),
    define('histogram', { name: 'h_several', help: 'h' }),
    call('h_several', 'observe', 0.5),
    call('h_several', 'observe', 0.005),
    call('h_several', 'observe', 1),
    define('histogram', { name: 'h_custom', help: 'h', labelNames: ['code'], buckets: [1, 2, 3] }),
    call('h_custom', 'observe', { code: '200' }, 1),
    call('h_custom', 'observe', { code: '300' }, 3),
    call('h_custom', 'observe', { code: '200' }, 2),
    define('histogram', { name: 'h_outside', help: 'h' }),
    call('h_outside', 'observe', 100000),
    define('histogram', { name: 'h_zeroed', help: 'h', labelNames: ['method'] }),
    call('h_zeroed', 'zero', { method: 'GET' }),
    define('histogram', { name: 'h_zeroed_once', help: 'h', labelNames: ['method'] }),
    call('h_zeroed_once', 'zero', { method: 'GET' }),
    call('h_zeroed_once', 'observe', { method: 'GET' }, 1),
    define('histogram', { name: 'h_reset', help: 'h', labelNames: ['method'] }),
    call('h_reset', 'observe', { method: 'GET' }, 1),
    // summaryTest.js
    define('summary', { name: 's_add', help: 'h' }),
    call('s_add', 'observe', 100),
    define('summary', { name: 's_zero', help: 'h' }),
    call('s_zero', 'observe', 0),
    define('summary', { name: 's_labels', help: 'h', labelNames: ['method', 'endpoint'] }),
    call('s_labels', 'observe', { method: 'GET', endpoint: '/test' }, 50),
    call('s_labels', 'observe', { method: 'POST', endpoint: '/test' }, 100),
    call('s_labels', 'observe', { method: 'GET', endpoint: '/test' }, 100),
    define('summary', { name: 's_reset', help: 'h', labelNames: ['k'] }),
    call('s_reset', 'observe', k, 100),
    flush,
    { op: 'registry', method: 'removeSingleMetric', args: ['removed_single'] },
    call('c_remove', 'remove', { method: 'GET', endpoint: '/test' }),
    call('c_reset', 'reset'),
    call('g_remove', 'remove', { code: '200' }),
    call('g_reset', 'reset'),
    call('g_reset_nolabels', 'reset'),
    call('h_reset', 'reset'),
    call('s_reset', 'reset'),
    flush,
  ]);
  // registerTest.js "should merge all provided registers": a second registry attached in the same process.
  await w.child.call('addRegistry');
  await w.run([define('counter', { name: 'merged_two', help: 'A test metric' }), call('merged_two', 'inc'), flush], 1);
  await defaults.run([
    define('counter', { name: 'with_default', help: 'A test metric' }),
    call('with_default', 'inc'),
    define('counter', { name: 'overlapped', help: 'A test metric', labelNames: ['testLabel', 'anotherLabel'] }),
    call('overlapped', 'inc', { testLabel: 'overlapped', anotherLabel: 'value123' }),
    flush,
  ]);
  const myType = { type: 'myType' };
  const development1 = await development.run([
    define('counter', { name: 'my_counter', help: 'my counter', labelNames: ['type'] }),
    define('gauge', { name: 'my_gauge', help: 'my gauge', labelNames: ['type'] }),
    define('histogram', { name: 'my_histogram', help: 'my histogram', labelNames: ['type'] }),
    { op: 'call', name: 'my_counter', method: 'inc', labels: myType },
    { op: 'call', name: 'my_gauge', method: 'inc', labels: myType, args: [1] },
    { op: 'call', name: 'my_histogram', method: 'observe', labels: myType, args: [1] },
    flush,
  ]);
  expect(development1).toBe(true);
  const first = await scrape(dir);
  await development.run([
    { op: 'call', name: 'my_counter', method: 'inc', labels: myType },
    { op: 'call', name: 'my_gauge', method: 'inc', labels: myType, args: [2] },
    { op: 'call', name: 'my_histogram', method: 'observe', labels: myType, args: [1] },
    flush,
  ]);
  developmentFirst = first;
  // registerTest.js "should allow resetting all metrics"
  await resetting.run([
    define('counter', { name: 'test_counter', help: 'test metric', labelNames: ['serial', 'active'] }),
    define('gauge', { name: 'test_gauge', help: 'Another test metric', labelNames: ['level'] }),
    define('histogram', { name: 'test_histo', help: 'test' }),
    define('summary', { name: 'test_summ', help: 'test', percentiles: [0.5] }),
    call('test_counter', 'inc', { serial: '12345', active: 'yes' }, 12),
    call('test_gauge', 'set', { level: 'low' }, -12),
    call('test_histo', 'observe', 1),
    call('test_summ', 'observe', 100),
    flush,
    { op: 'registry', method: 'resetMetrics' },
    flush,
  ]);
  single = await scrape(dir);

  await z.run([
    define('counter', { name: 'counter', help: 'help' }),
    define('gauge', { name: 'gauge', help: 'help' }),
    define('histogram', { name: 'histogram', help: 'help' }),
    define('summary', { name: 'summary', help: 'help' }),
    flush,
  ]);
  zeros = await scrape(zerosDir);

  const clusterDefs: Op[] = [
    define('histogram', {
      name: 'test_histogram',
      help: 'Example of a histogram',
      labelNames: ['code'],
      buckets: [0.1, 10],
    }),
    define('gauge', { name: 'test_gauge', help: 'Example of a gauge', labelNames: ['method', 'code'] }),
    define('gauge', {
      name: 'process_start_time_seconds',
      help: 'Start time of the process since unix epoch in seconds.',
      aggregator: 'omit',
    }),
    define('gauge', {
      name: 'nodejs_eventloop_lag_seconds',
      help: 'Lag of event loop in seconds.',
      aggregator: 'average',
    }),
    define('gauge', {
      name: 'nodejs_version_info',
      help: 'Node.js version info.',
      labelNames: ['version', 'major', 'minor', 'patch'],
      aggregator: 'first',
    }),
    define('counter', { name: 'test_metric', help: 'A test metric', labelNames: ['label', 'code'] }),
  ];
  const version = { version: 'v6.11.1', major: 6, minor: 11, patch: 1 };
  await a.run([
    ...clusterDefs,
    call('test_histogram', 'observe', { code: '300' }, 5),
    call('test_gauge', 'set', { method: 'get', code: 200 }, 0.47),
    call('test_gauge', 'set', 0.64),
    call('test_gauge', 'set', { method: 'post', code: '300' }, 23),
    call('process_start_time_seconds', 'set', 1502075832),
    call('nodejs_eventloop_lag_seconds', 'set', 0.009),
    call('nodejs_version_info', 'set', version, 1),
    call('test_metric', 'inc', { label: 'hello', code: '303' }, 6),
    call('test_metric', 'inc', { label: 'bye', code: '404' }, 17),
    flush,
  ]);
  await b.run([
    ...clusterDefs,
    call('test_histogram', 'observe', { code: '300' }, 0.05),
    call('test_histogram', 'observe', { code: '300' }, 5),
    call('test_gauge', 'set', { method: 'get', code: 200 }, 0.02),
    call('test_gauge', 'set', 0.24),
    call('test_gauge', 'set', { method: 'post', code: '300' }, 51),
    call('process_start_time_seconds', 'set', 1502075849),
    call('nodejs_eventloop_lag_seconds', 'set', 0.008),
    call('nodejs_version_info', 'set', version, 1),
    call('test_metric', 'inc', { label: 'hello', code: '303' }, 6),
    call('test_metric', 'inc', { label: 'bye', code: '404' }, 17),
    flush,
  ]);
  cluster = await scrape(clusterDir);
  empty = await scrape(tempDir().dir);
}, 60_000);

let developmentFirst: Scrape;

afterAll(async () => {
  await killAll();
  removeTempDirs();
});

describe('every scrape', () => {
  it('is valid for promtool and both Python parsers', () => {
    expect(single.problems).toEqual([]);
    expect(zeros.problems).toEqual([]);
    expect(cluster.problems).toEqual([]);
    expect(empty.problems).toEqual([]);
  });
});

describe('registerTest.js', () => {
  it('should output a counter metric: help, type, then each value (both formats)', () => {
    expect(block(single.text, 'test_metric')).toEqual([
      '# HELP test_metric A test metric',
      '# TYPE test_metric counter',
      'test_metric{label="hello",code="303"} 12',
      'test_metric{label="bye",code="404"} 34',
    ]);
    expect(block(single.openmetrics, 'test_metric')).toEqual([
      '# HELP test_metric A test metric',
      '# TYPE test_metric counter',
      'test_metric_total{label="hello",code="303"} 12',
      'test_metric_total{label="bye",code="404"} 34',
    ]);
  });

  it('should handle and output a metric with a NaN / +Infinity / -Infinity value', () => {
    for (const scrapeText of [single.text, single.openmetrics]) {
      expect(block(scrapeText, 'nan_gauge')[2]).toBe('nan_gauge NaN');
      expect(block(scrapeText, 'pinf_gauge')[2]).toBe('pinf_gauge +Inf');
      expect(block(scrapeText, 'ninf_gauge')[2]).toBe('ninf_gauge -Inf');
    }
  });

  it('should handle a metric without labels', () => {
    expect(block(single.text, 'no_labels')).toEqual([
      '# HELP no_labels A test metric',
      '# TYPE no_labels counter',
      'no_labels 1',
    ]);
  });

  it('should handle a metric with default labels', () => {
    expect(block(single.text, 'with_default')[2]).toBe('with_default{testLabel="testValue"} 1');
    expect(block(single.openmetrics, 'with_default')[2]).toBe('with_default_total{testLabel="testValue"} 1');
  });

  it('labeled metrics should take precidence over defaulted', () => {
    expect(block(single.text, 'overlapped')[2]).toBe('overlapped{testLabel="overlapped",anotherLabel="value123"} 1');
  });

  it('should output all initialized metrics at value 0 (snapshot, without quantiles and blank lines)', () => {
    const buckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, '+Inf'];
    const body = (counterSample: string) => [
      '# HELP counter help',
      '# TYPE counter counter',
      `${counterSample} 0`,
      '# HELP gauge help',
      '# TYPE gauge gauge',
      'gauge 0',
      '# HELP histogram help',
      '# TYPE histogram histogram',
      ...buckets.map((le) => `histogram_bucket{le="${le}"} 0`),
      'histogram_sum 0',
      'histogram_count 0',
      '# HELP summary help',
      '# TYPE summary summary',
      'summary_sum 0',
      'summary_count 0',
    ];
    expect(zeros.text).toBe(`${body('counter').join('\n')}\n`);
    expect(zeros.openmetrics).toBe(`${body('counter_total').join('\n')}\n# EOF\n`);
  });

  it('should not output all initialized metrics at value 0 if labels: headers, no samples', () => {
    // Deliberate difference (store README): a gauge no process reports a value for is left out whole,
    // headers too, so a gauge that every process withdrew (or that only exited processes declared) goes.
    expect(single.exp.families.find((f) => f.name === 'lab_gauge')).toBeUndefined();
    const names = ['lab_counter', 'lab_histogram', 'lab_summary'];
    const families = names.map((name) => single.exp.families.find((f) => f.name === name));
    expect(names.filter((_, i) => families[i]?.help !== 'help')).toEqual([]); // the families without headers
    expect(families.flatMap((f) => f?.samples ?? [])).toEqual([]);
  });

  it('should escape " in label values', () => {
    expect(block(single.text, 'escaped')[2]).toBe('escaped{label="hello",code="3\\"03"} 12');
  });

  it('should allow removing single metrics: the other metric stays, the removed one goes', () => {
    expect(value(single.exp, 'kept_gauge')).toBe(1);
    expect(single.exp.samples.filter((s) => s.name === 'removed_single')).toEqual([]);
  });

  it('should merge all provided registers (two registries attached in one process)', () => {
    expect(value(single.exp, 'test_metric', { label: 'bye', code: '404' })).toBe(34);
    expect(value(single.exp, 'merged_two')).toBe(1);
  });

  it('resetting: should allow resetting all metrics (gauges go; totals are kept)', () => {
    expect(value(single.exp, 'test_counter', { serial: '12345', active: 'yes' })).toBe(12);
    expect(single.exp.samples.filter((s) => s.name === 'test_gauge')).toEqual([]);
    expect(value(single.exp, 'test_histo_count')).toBe(1);
    expect(value(single.exp, 'test_summ_count')).toBe(1);
  });

  it('Registry with default labels, mutation tests: counter, gauge and histogram, twice', () => {
    const dev = { type: 'myType', env: 'development' };
    expect(block(developmentFirst.text, 'my_counter')[2]).toBe('my_counter{type="myType",env="development"} 1');
    expect(block(single.text, 'my_counter')[2]).toBe('my_counter{type="myType",env="development"} 2');
    expect(block(single.openmetrics, 'my_counter')[2]).toBe('my_counter_total{type="myType",env="development"} 2');
    expect(block(developmentFirst.text, 'my_gauge')[2]).toBe('my_gauge{type="myType",env="development"} 1');
    expect(block(single.text, 'my_gauge')[2]).toBe('my_gauge{type="myType",env="development"} 3');
    // prom-client writes my_histogram_bucket{le="1",env="development",type="myType"}: the same label set.
    expect(value(developmentFirst.exp, 'my_histogram_bucket', { ...dev, le: '1' })).toBe(1);
    expect(value(single.exp, 'my_histogram_bucket', { ...dev, le: '1' })).toBe(2);
  });
});

describe('counterTest.js', () => {
  it('should increment counter / with a provided value / with 0 / init to 0', () => {
    expect(value(single.exp, 'c_inc')).toBe(1);
    expect(value(single.exp, 'c_value')).toBe(100);
    expect(value(single.exp, 'c_zero')).toBe(0);
    expect(value(single.exp, 'c_init')).toBe(0);
  });
  it('labels: 1 value per label, labels as an object, labels() then inc(value)', () => {
    expect(value(single.exp, 'c_labels', { method: 'GET', endpoint: '/test' })).toBe(3);
    expect(value(single.exp, 'c_labels', { method: 'POST', endpoint: '/test' })).toBe(100);
  });
  it('remove: the store keeps the removed series total (totals never go down)', () => {
    expect(value(single.exp, 'c_remove', { method: 'GET', endpoint: '/test' })).toBe(1);
    expect(value(single.exp, 'c_remove', { method: 'POST', endpoint: '/test' })).toBe(1);
  });
  it('counter reset: the store keeps the total', () => {
    expect(value(single.exp, 'c_reset')).toBe(12);
  });
});

describe('gaugeTest.js', () => {
  it('set, inc(), inc(5), dec(), dec(2): 10 + 1 + 5 - 1 - 2 = 13', () => {
    expect(value(single.exp, 'g_ops')).toBe(13);
  });
  it('should set to exactly zero / inc by zero without defaulting to 1 / init to 0', () => {
    expect(value(single.exp, 'g_set_zero')).toBe(0);
    expect(value(single.exp, 'g_inc_zero')).toBe(0);
    expect(value(single.exp, 'g_init')).toBe(0);
  });
  it('with labels: increment, decrement, set', () => {
    expect(value(single.exp, 'g_labels', { code: '200' })).toBe(2);
    expect(value(single.exp, 'g_labels', { code: '404' })).toBe(-1);
    expect(value(single.exp, 'g_labels', { code: '500' })).toBe(500);
  });
  it('with remove: the removed series goes, the other stays', () => {
    expect(value(single.exp, 'g_remove', { code: '200' })).toBeUndefined();
    expect(value(single.exp, 'g_remove', { code: '404' })).toBe(2);
  });
  it('gauge reset: labelled series go; a labelless gauge is 0 again', () => {
    expect(single.exp.samples.filter((s) => s.name === 'g_reset')).toEqual([]);
    expect(value(single.exp, 'g_reset_nolabels')).toBe(0);
  });
});

describe('histogramTest.js', () => {
  it('should increase count / sum; should add item in upper bound bucket', () => {
    expect(value(single.exp, 'h_count_count')).toBe(2);
    expect(value(single.exp, 'h_count_sum')).toBe(1);
    expect(value(single.exp, 'h_count_bucket', { le: '0.5' })).toBe(2);
    expect(value(single.exp, 'h_count_bucket', { le: '0.25' })).toBe(0);
  });
  it('should be able to observe 0s', () => {
    expect(value(single.exp, 'h_zero_obs_bucket', { le: '0.005' })).toBe(1);
  });
  it('should be able to monitor more than one item; +Inf equals count; buckets in increasing order', () => {
    const buckets = single.exp.samples.filter((s) => s.name === 'h_several_bucket');
    expect(buckets.map((s) => s.labels.le)).toEqual([
      '0.005',
      '0.01',
      '0.025',
      '0.05',
      '0.1',
      '0.25',
      '0.5',
      '1',
      '2.5',
      '5',
      '10',
      '+Inf',
    ]);
    expect(value(single.exp, 'h_several_bucket', { le: '0.005' })).toBe(1);
    expect(value(single.exp, 'h_several_bucket', { le: '0.5' })).toBe(2);
    expect(value(single.exp, 'h_several_bucket', { le: '1' })).toBe(3);
    expect(value(single.exp, 'h_several_bucket', { le: '+Inf' })).toBe(value(single.exp, 'h_several_count'));
  });
  it('should group counts on each label set; should allow custom labels and buckets', () => {
    expect(value(single.exp, 'h_custom_bucket', { code: '200', le: '1' })).toBe(1);
    expect(value(single.exp, 'h_custom_bucket', { code: '200', le: '2' })).toBe(2);
    expect(value(single.exp, 'h_custom_bucket', { code: '300', le: '2' })).toBe(0);
    expect(value(single.exp, 'h_custom_bucket', { code: '300', le: '3' })).toBe(1);
  });
  it('should observe value if outside most upper bound', () => {
    expect(value(single.exp, 'h_outside_bucket', { le: '10' })).toBe(0);
    expect(value(single.exp, 'h_outside_bucket', { le: '+Inf' })).toBe(1);
  });
  it('zero: should export the metric after zeroing; should not duplicate the metric', () => {
    expect(value(single.exp, 'h_zeroed_count', { method: 'GET' })).toBe(0);
    expect(value(single.exp, 'h_zeroed_bucket', { method: 'GET', le: '+Inf' })).toBe(0);
    expect(single.exp.samples.filter((s) => s.name === 'h_zeroed_once_count')).toHaveLength(1);
    expect(value(single.exp, 'h_zeroed_once_count', { method: 'GET' })).toBe(1);
  });
  it('should allow to be reset itself: the store keeps the totals', () => {
    expect(value(single.exp, 'h_reset_count', { method: 'GET' })).toBe(1);
  });
});

describe('summaryTest.js', () => {
  it('should add a value to the summary / observe 0s: _sum and _count, no quantiles', () => {
    expect([value(single.exp, 's_add_sum'), value(single.exp, 's_add_count')]).toEqual([100, 1]);
    expect([value(single.exp, 's_zero_sum'), value(single.exp, 's_zero_count')]).toEqual([0, 1]);
    expect(single.exp.samples.filter((s) => 'quantile' in s.labels)).toEqual([]);
  });
  it('labels: should record the correct values per label', () => {
    expect(value(single.exp, 's_labels_count', { method: 'GET', endpoint: '/test' })).toBe(2);
    expect(value(single.exp, 's_labels_sum', { method: 'GET', endpoint: '/test' })).toBe(150);
    expect(value(single.exp, 's_labels_count', { method: 'POST', endpoint: '/test' })).toBe(1);
  });
  it('should allow to reset itself: the store keeps the totals', () => {
    expect([value(single.exp, 's_reset_sum', { k: 'x' }), value(single.exp, 's_reset_count', { k: 'x' })]).toEqual([
      100, 1,
    ]);
  });
});

describe('clusterTest.js, two writer processes', () => {
  it('aggregatorRegistry.clusterMetrics() works properly if there are no cluster workers: empty', () => {
    expect(empty.text).toBe('');
    expect(empty.openmetrics).toBe('# EOF\n');
  });
  it('AggregatorRegistry.aggregate() defaults to summation, preserves histogram bins', () => {
    expect(value(cluster.exp, 'test_histogram_bucket', { code: '300', le: '0.1' })).toBe(1);
    expect(value(cluster.exp, 'test_histogram_bucket', { code: '300', le: '10' })).toBe(3);
    expect(value(cluster.exp, 'test_histogram_count', { code: '300' })).toBe(3);
    expect(value(cluster.exp, 'test_histogram_sum', { code: '300' })).toBeCloseTo(10.05, 12);
  });
  it('defaults to summation, works for gauges (each label set, the labelless one too)', () => {
    expect(value(cluster.exp, 'test_gauge', { method: 'get', code: '200' })).toBeCloseTo(0.49, 12);
    expect(value(cluster.exp, 'test_gauge')).toBeCloseTo(0.88, 12);
    expect(value(cluster.exp, 'test_gauge', { method: 'post', code: '300' })).toBe(74);
  });
  it('uses the aggregate method of process_start_time (omit → the oldest live process, documented)', () => {
    expect(value(cluster.exp, 'process_start_time_seconds')).toBe(1502075832);
  });
  it('uses the aggregate method of nodejs_eventloop_lag_seconds (average → the worst live process, documented)', () => {
    expect(value(cluster.exp, 'nodejs_eventloop_lag_seconds')).toBe(0.009);
  });
  it('uses the aggregate method of nodejs_version_info (first: one series, value 1)', () => {
    expect(value(cluster.exp, 'nodejs_version_info', { version: 'v6.11.1', major: '6', minor: '11', patch: '1' })).toBe(
      1,
    );
    expect(cluster.exp.samples.filter((s) => s.name === 'nodejs_version_info')).toHaveLength(1);
  });
  it("registerTest's counter merged over two writers: the same lines as one writer's", () => {
    expect(block(cluster.text, 'test_metric')).toEqual(block(single.text, 'test_metric'));
    expect(block(cluster.openmetrics, 'test_metric')).toEqual(block(single.openmetrics, 'test_metric'));
  });
});
