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
 * Issue 13, section 1: each bug found by running the store against other clients' suites, as a case of
 * its own that fails on the code the issue was filed against. Writer processes on one store; each case
 * uses its own metric names. The NaN increment (bug 2) gets a process of its own, since on the code the
 * issue describes it stops every metric of its process; default labels (bug 4) too, since they apply to
 * every metric of a registry.
 */

let dir: string;
let main: Writer;
let withDefaults: Writer;
let nanWriter: Writer;
let pidWriter: Writer;
let out: Scrape;
/** The pid-label case has a store of its own: on the code the issue describes it makes the whole scrape unreadable. */
let pidOut: Scrape;
const flushed: Record<string, unknown> = {};

const H = { buckets: [1, 5, 10] };

beforeAll(async () => {
  dir = tempDir().dir;
  const pidDir = tempDir().dir;
  [main, withDefaults, nanWriter, pidWriter] = await Promise.all([
    startWriter(dir),
    startWriter(dir, { env: 'prod' }),
    startWriter(dir),
    startWriter(pidDir),
  ]);
  const defs: Op[] = [
    define('counter', { name: 'reset_c_total', help: 'h' }),
    define('counter', { name: 'reset_same_total', help: 'h' }),
    define('counter', { name: 'remove_c_total', help: 'h', labelNames: ['k'] }),
    define('histogram', { name: 'reset_h', help: 'h', ...H }),
    define('histogram', { name: 'remove_h', help: 'h', labelNames: ['k'], ...H }),
    define('summary', { name: 'reset_s', help: 'h', percentiles: [0.5] }),
    define('summary', { name: 'reset_s_same', help: 'h', percentiles: [0.5] }),
    define('summary', { name: 'remove_s', help: 'h', labelNames: ['k'], percentiles: [0.5] }),
    define('gauge', { name: 'removed_gauge', help: 'h', labelNames: ['k'] }),
    define('gauge', { name: 'reset_gauge', help: 'h', labelNames: ['k'] }),
    define('counter', { name: 'removed_counter_total', help: 'h' }),
    define('histogram', { name: 'inf_sum', help: 'h', ...H }),
    define('histogram', { name: 'negative', help: 'h', buckets: [-10, -1, 0, 1, 10] }),
  ];
  const k = { k: 'x' };
  await main.run([
    ...defs,
    call('reset_c_total', 'inc', 12),
    call('reset_same_total', 'inc', 12),
    call('remove_c_total', 'inc', k, 12),
    call('reset_h', 'observe', 2),
    call('remove_h', 'observe', k, 2),
    call('reset_s', 'observe', 10),
    call('reset_s_same', 'observe', 5),
    call('remove_s', 'observe', k, 10),
    call('removed_gauge', 'set', k, 5),
    call('reset_gauge', 'set', k, 5),
    call('removed_counter_total', 'inc', 3),
    call('inf_sum', 'observe', 1e308),
    call('inf_sum', 'observe', 1e308),
    call('negative', 'observe', -5),
    call('negative', 'observe', -3),
    flush,
    // Reset or removed, and grown back before the next flush.
    call('reset_c_total', 'reset'),
    call('reset_c_total', 'inc', 15),
    call('reset_same_total', 'reset'),
    call('reset_same_total', 'inc', 12),
    call('remove_c_total', 'remove', k),
    call('remove_c_total', 'inc', k, 15),
    call('reset_h', 'reset'),
    call('reset_h', 'observe', 7),
    call('remove_h', 'remove', k),
    call('remove_h', 'observe', k, 7),
    call('reset_s', 'reset'),
    call('reset_s', 'observe', 3),
    call('reset_s_same', 'reset'),
    call('reset_s_same', 'observe', 5),
    call('remove_s', 'remove', k),
    call('remove_s', 'observe', k, 3),
    call('removed_gauge', 'set', k, 6),
    { op: 'registry', method: 'removeSingleMetric', args: ['removed_gauge'] },
    call('reset_gauge', 'reset'),
    call('inf_sum', 'observe', 1),
    flush,
  ]);
  await withDefaults.run([
    define('counter', { name: 'default_env_total', help: 'h', labelNames: ['x', 'env'] }),
    call('default_env_total', 'inc', { x: '1' }),
    call('default_env_total', 'inc', { x: '2', env: 'dev' }),
    flush,
  ]);
  await pidWriter.run([
    define('gauge', { name: 'pid_all', help: 'h', labelNames: ['pid'], multiprocessMode: 'all' }),
    define('gauge', { name: 'pid_liveall', help: 'h', labelNames: ['pid'], multiprocessMode: 'liveall' }),
    call('pid_all', 'set', { pid: '7' }, 1),
    call('pid_liveall', 'set', { pid: '7' }, 2),
    flush,
  ]);
  pidOut = await scrape(pidDir);
  flushed.before = await nanWriter.run([
    define('counter', { name: 'nan_inc_total', help: 'h' }),
    define('counter', { name: 'beside_nan_total', help: 'h' }),
    define('gauge', { name: 'beside_nan_gauge', help: 'h' }),
    call('nan_inc_total', 'inc', 4),
    call('beside_nan_total', 'inc', 1),
    flush,
  ]);
  flushed.nan = await nanWriter.run([call('nan_inc_total', 'inc', num(Number.NaN)), flush]);
  flushed.after = await nanWriter.run([
    call('beside_nan_total', 'inc', 1),
    call('beside_nan_gauge', 'set', 9),
    flush,
    call('nan_inc_total', 'inc', num(Number.NaN)),
    call('beside_nan_total', 'inc', 1),
    flush,
  ]);
  flushed.health = await nanWriter.child.call('health');
  out = await scrape(dir);
}, 60_000);

afterAll(async () => {
  await killAll();
  removeTempDirs();
});

describe('issue 13, 1.1: increments recorded after reset() or remove() are added', () => {
  it('counter: inc(12), flush, reset(), inc(15), flush gives 27', () => {
    expect(value(out.exp, 'reset_c_total')).toBe(27);
  });
  it('counter: reset() and grown back to the very value it had (12) gives 24', () => {
    expect(value(out.exp, 'reset_same_total')).toBe(24);
  });
  it('counter: remove(labels) and incremented again gives 27', () => {
    expect(value(out.exp, 'remove_c_total', { k: 'x' })).toBe(27);
  });
  it('histogram: reset() then observe: buckets, _sum and _count hold both observations', () => {
    expect(value(out.exp, 'reset_h_count')).toBe(2);
    expect(value(out.exp, 'reset_h_sum')).toBe(9);
    expect(value(out.exp, 'reset_h_bucket', { le: '5' })).toBe(1);
    expect(value(out.exp, 'reset_h_bucket', { le: '10' })).toBe(2);
  });
  it('histogram: remove(labels) then observe', () => {
    expect(value(out.exp, 'remove_h_count', { k: 'x' })).toBe(2);
    expect(value(out.exp, 'remove_h_sum', { k: 'x' })).toBe(9);
  });
  it('summary: reset() (zeroes in place) then observe: _sum and _count hold both', () => {
    expect([value(out.exp, 'reset_s_sum'), value(out.exp, 'reset_s_count')]).toEqual([13, 2]);
  });
  it('summary: reset() and the same observation again (the entry looks unchanged) counts twice', () => {
    expect([value(out.exp, 'reset_s_same_sum'), value(out.exp, 'reset_s_same_count')]).toEqual([10, 2]);
  });
  it('summary: remove(labels) then observe', () => {
    expect([value(out.exp, 'remove_s_sum', { k: 'x' }), value(out.exp, 'remove_s_count', { k: 'x' })]).toEqual([13, 2]);
  });
});

describe('the scrape of the store with bugs 1.1, 1.2, 1.4-1.7', () => {
  it('is valid for promtool and both Python parsers (text and OpenMetrics)', () => {
    expect(out.problems).toEqual([]);
  });
});

describe('issue 13, 1.2: one counter.inc(NaN) does not stop the process', () => {
  it('every flush of the process still succeeds and its other metrics are stored', () => {
    expect(flushed).toMatchObject({ before: true, nan: true, after: true });
    expect(value(out.exp, 'beside_nan_total')).toBe(3);
    expect(value(out.exp, 'beside_nan_gauge')).toBe(9);
  });
  it('the counter keeps the total it had (4) or is NaN; it never goes down', () => {
    const v = value(out.exp, 'nan_inc_total');
    expect(v === 4 || Number.isNaN(v)).toBe(true);
  });
  it('the NaN increment is logged once, naming the metric', () => {
    const lines = nanWriter.child
      .stderr()
      .split('\n')
      .filter((l) => l.includes('nan_inc_total'));
    expect(lines).toHaveLength(1);
  });
});

describe('issue 13, 1.3: a gauge label named pid in all/liveall mode', () => {
  it('the exposition stays valid for promtool and both Python parsers (no duplicate pid label)', () => {
    expect(pidOut.problems).toEqual([]);
  });
  it("the gauge's own pid value and the process's pid are both served", () => {
    for (const [name, v] of [
      ['pid_all', 1],
      ['pid_liveall', 2],
    ] as const) {
      const samples = pidOut.exp.samples.filter((s) => s.name === name);
      expect(samples.map((s) => s.value)).toEqual([v]);
      const labelValues = Object.values(samples[0]?.labels ?? {});
      expect(labelValues).toContain('7');
      expect(labelValues).toContain(String(pidWriter.pid));
    }
  });
});

describe('issue 13, 1.4: a registry default label for a declared label the series does not set', () => {
  it('renders as prom-client does: c_total{x="1",env="prod"}', () => {
    expect(value(out.exp, 'default_env_total', { x: '1', env: 'prod' })).toBe(1);
  });
  it('a series that sets the label keeps its own value', () => {
    expect(value(out.exp, 'default_env_total', { x: '2', env: 'dev' })).toBe(1);
  });
});

describe('issue 13, 1.5: registry.removeSingleMetric() is consistent with gauge.reset()', () => {
  it('a removed gauge is no longer served by the process, as a reset one is not', () => {
    expect(out.exp.samples.filter((s) => s.name === 'reset_gauge')).toEqual([]);
    expect(out.exp.samples.filter((s) => s.name === 'removed_gauge')).toEqual([]);
  });
});

describe('issue 13, 1.6: a histogram _sum that reached +Inf', () => {
  it('stays +Inf at the next flush (not NaN)', () => {
    expect(value(out.exp, 'inf_sum_sum')).toBe(Number.POSITIVE_INFINITY);
    expect(value(out.exp, 'inf_sum_count')).toBe(3);
  });
});

describe('issue 13, 1.7: OpenMetrics for a histogram with negative observations', () => {
  it('is accepted by the OpenMetrics parsers, with the right buckets', () => {
    expect(out.problems.filter((p) => p.includes('openmetrics'))).toEqual([]);
    expect(value(out.om, 'negative_bucket', { le: '-10' })).toBe(0);
    expect(value(out.om, 'negative_bucket', { le: '-1' })).toBe(2);
    expect(value(out.om, 'negative_bucket', { le: '+Inf' })).toBe(2);
    const sum = value(out.om, 'negative_sum');
    expect(sum === undefined || sum >= 0).toBe(true);
  });
  it('the text format (no such rule) keeps the true _sum', () => {
    expect(value(out.exp, 'negative_sum')).toBe(-8);
  });
});
