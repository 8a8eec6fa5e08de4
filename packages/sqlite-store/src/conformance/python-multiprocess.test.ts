import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../index.js';
import { killAll, killHard, removeTempDirs, tempDir } from '../test-support/children.js';
import {
  call,
  define,
  flush,
  type Op,
  type Scrape,
  scrape,
  startWriter,
  value,
  type Writer,
} from './support/harness.js';

/**
 * Python prometheus_client's tests/test_multiprocess.py (github.com/prometheus/client_python, class
 * TestMultiProcess), each case translated to two real writer processes on one store: A plays pid 123 and
 * B pid 456 of the Python tests, `mark_process_dead(123)` is a SIGKILL of A (after its flush), and
 * `registry.get_sample_value()` reads the store's merged output (store.metrics(), both formats, each
 * validated by promtool and Python's own parsers). Cases use distinct metric names, so they share the
 * two processes and are read at three points: after definition (the Python tests' initial zeros), after
 * recording, and after A died.
 *
 * Merge semantics follow prometheus_client/multiprocess.py (_accumulate_metrics): counters, summaries
 * and histograms summed; gauges by mode, `pid` label for all/liveall; mostrecent by write time.
 *
 * Not ported, and why:
 * - TestMultiProcessDeprecation (lowercase prometheus_multiproc_dir): the store reads only
 *   PROMETHEUS_MULTIPROC_DIR; a deprecated spelling never existed here.
 * - test_namespace_subsystem, test_child_preserves_parent_context_for_subclasses: prom-client has no
 *   namespace/subsystem/unit arguments or metric subclasses with label children; names are given whole.
 *   (test_child_name_is_built_once_... is ported for what it checks of the output: `<family>_total`.)
 * - test_initialization_detects_pid_change, test_merge_no_accumulate, test_missing_gauge_file_during_merge,
 *   TestMmapedDict: one mmap file per process and its merge function; the store has one database and no
 *   per-process files (a dead process's rows are folded, covered by the store's churn tests).
 * - test_restrict (restricted_registry by name): store.metrics() has no name filter.
 * - TestUnsetEnv.test_unset_syncdir_env: openStore() without a directory uses its documented default.
 */

const PYTHON_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
const ABCD = { a: 'a', b: 'b', c: 'c', d: 'd' };
const MODES = ['all', 'liveall', 'min', 'livemin', 'max', 'livemax', 'sum', 'livesum', 'mostrecent', 'livemostrecent'];

const definitions: Op[] = [
  define('counter', { name: 'c_total', help: 'help' }),
  define('summary', { name: 's', help: 'help', percentiles: [] }),
  define('histogram', { name: 'h', help: 'help' }),
  ...MODES.map((m) => define('gauge', { name: `g_${m}`, help: 'help', multiprocessMode: m })),
  define('counter', { name: 'forks_total', help: 'help' }),
  // test_collect: Python's default gauge mode is `all` and its default buckets are PYTHON_BUCKETS.
  define('counter', { name: 'collect_c_total', help: 'c help', labelNames: ['a', 'b', 'c', 'd'] }),
  define('gauge', { name: 'collect_g', help: 'g help', labelNames: ['a', 'b', 'c', 'd'], multiprocessMode: 'all' }),
  define('histogram', { name: 'collect_h', help: 'h help', labelNames: ['a', 'b', 'c', 'd'], buckets: PYTHON_BUCKETS }),
  define('histogram', { name: 'ordering_h', help: 'help', labelNames: ['view'], buckets: PYTHON_BUCKETS }),
  define('counter', { name: 'removed_total', help: 'help', labelNames: ['label'] }),
  define('counter', { name: 'ns_ss_m_seconds', help: 'help', labelNames: ['status', 'method'] }),
  // multiprocess.py semantics beyond the test file (issue 13, section 2).
  define('gauge', { name: 'mostrecent_again', help: 'help', multiprocessMode: 'mostrecent' }),
  define('gauge', { name: 'nan_sum', help: 'help', multiprocessMode: 'sum' }),
  define('gauge', { name: 'nan_livesum', help: 'help', multiprocessMode: 'livesum' }),
];

let dir: string;
let a: Writer;
let b: Writer;
let initial: Scrape;
let recorded: Scrape;
let afterDeath: Scrape;

beforeAll(async () => {
  dir = tempDir().dir;
  [a, b] = await Promise.all([startWriter(dir), startWriter(dir)]);
  await a.run([...definitions, flush]);
  await b.run([...definitions, flush]);
  initial = await scrape(dir);

  // A records first, B second, A last: mostrecent is decided by the order of these flushes (each
  // flush stamps what it writes; the pauses keep the stamps apart on a coarse clock).
  await a.run([
    call('c_total', 'inc', 1),
    call('s', 'observe', 1),
    call('h', 'observe', 1),
    call('g_all', 'set', 1),
    call('g_liveall', 'set', 1),
    call('g_min', 'set', 1),
    call('g_livemin', 'set', 1),
    call('g_max', 'set', 1),
    call('g_livemax', 'set', 2),
    call('g_sum', 'set', 1),
    call('g_livesum', 'set', 1),
    call('forks_total', 'inc', 1),
    call('forks_total', 'inc', 1),
    call('collect_c_total', 'inc', ABCD, 1),
    call('collect_g', 'set', ABCD, 1),
    call('collect_h', 'observe', ABCD, 1),
    call('ordering_h', 'observe', { view: 'view1' }, 1),
    call('removed_total', 'inc', { label: 'label' }),
    call('ns_ss_m_seconds', 'inc', { status: '200', method: 'GET' }),
    call('mostrecent_again', 'set', 1),
    call('nan_sum', 'set', { $n: 'NaN' }),
    call('nan_livesum', 'set', { $n: 'NaN' }),
    flush,
    // test_remove_clear_warning: Python warns that remove() and clear() are not implemented; the store
    // implements them and keeps a counter's total (its README), so the total is still served.
    call('removed_total', 'remove', { label: 'label' }),
    call('removed_total', 'reset'),
    flush,
  ]);
  await sleep(5);
  await b.run([
    call('c_total', 'inc', 2),
    call('s', 'observe', 2),
    call('h', 'observe', 2),
    call('g_all', 'set', 2),
    call('g_liveall', 'set', 2),
    call('g_min', 'set', 2),
    call('g_livemin', 'set', 2),
    call('g_max', 'set', 2),
    call('g_livemax', 'set', 1),
    call('g_sum', 'set', 2),
    call('g_livesum', 'set', 2),
    call('g_mostrecent', 'set', 2),
    call('g_livemostrecent', 'set', 2),
    call('forks_total', 'inc', 1),
    call('collect_c_total', 'inc', ABCD, 1),
    call('collect_g', 'set', ABCD, 1),
    call('collect_h', 'observe', ABCD, 5),
    call('ordering_h', 'observe', { view: 'view1' }, 5),
    call('ordering_h', 'observe', { view: 'view2' }, 1),
    call('ns_ss_m_seconds', 'inc', { status: '404', method: 'POST' }),
    call('mostrecent_again', 'set', 2),
    call('nan_sum', 'set', 2),
    call('nan_livesum', 'set', 2),
    flush,
  ]);
  await sleep(5);
  await a.run([
    call('g_mostrecent', 'set', 1),
    call('g_livemostrecent', 'set', 1),
    // Python stamps every set(), so setting the value A already had makes it the most recent again.
    call('mostrecent_again', 'set', 1),
    flush,
  ]);
  recorded = await scrape(dir);
  await killHard(a.child); // mark_process_dead(123)
  afterDeath = await scrape(dir);
}, 60_000);

afterAll(async () => {
  await killAll();
  removeTempDirs();
});

const pid = (w: Writer) => String(w.pid);

describe('test_multiprocess.py TestMultiProcess, on the store', () => {
  it('every scrape is valid for promtool and Python prometheus_client parsers (text and OpenMetrics)', () => {
    expect(initial.problems).toEqual([]);
    expect(recorded.problems).toEqual([]);
    expect(afterDeath.problems).toEqual([]);
  });

  // test_counter_adds
  it('test_counter_adds: 0 before, then 1 + 2 = 3', () => {
    expect(value(initial.exp, 'c_total')).toBe(0);
    expect(value(recorded.exp, 'c_total')).toBe(3);
    expect(value(recorded.om, 'c_total')).toBe(3);
  });

  // test_summary_adds
  it('test_summary_adds: _count 2 and _sum 3 (no quantiles, as in Python multiprocess mode)', () => {
    expect([value(initial.exp, 's_count'), value(initial.exp, 's_sum')]).toEqual([0, 0]);
    expect([value(recorded.exp, 's_count'), value(recorded.exp, 's_sum')]).toEqual([2, 3]);
    expect(recorded.exp.samples.filter((s) => s.name === 's')).toEqual([]);
  });

  // test_histogram_adds (prom-client's default buckets also have 5; its label is le="5", Python's "5.0")
  it('test_histogram_adds: _count 2, _sum 3, le=5 bucket 2', () => {
    expect([
      value(initial.exp, 'h_count'),
      value(initial.exp, 'h_sum'),
      value(initial.exp, 'h_bucket', { le: '5' }),
    ]).toEqual([0, 0, 0]);
    expect([
      value(recorded.exp, 'h_count'),
      value(recorded.exp, 'h_sum'),
      value(recorded.exp, 'h_bucket', { le: '5' }),
    ]).toEqual([2, 3, 2]);
  });

  // test_gauge_all
  it('test_gauge_all: one series per process with its pid, kept after the process died', () => {
    expect(value(initial.exp, 'g_all', { pid: pid(a) })).toBe(0);
    expect(value(initial.exp, 'g_all', { pid: pid(b) })).toBe(0);
    expect(value(afterDeath.exp, 'g_all', { pid: pid(a) })).toBe(1);
    expect(value(afterDeath.exp, 'g_all', { pid: pid(b) })).toBe(2);
  });

  // test_gauge_liveall
  it('test_gauge_liveall: per pid while alive; the dead process goes', () => {
    expect(value(initial.exp, 'g_liveall', { pid: pid(a) })).toBe(0);
    expect(value(recorded.exp, 'g_liveall', { pid: pid(a) })).toBe(1);
    expect(value(recorded.exp, 'g_liveall', { pid: pid(b) })).toBe(2);
    expect(value(afterDeath.exp, 'g_liveall', { pid: pid(a) })).toBeUndefined();
    expect(value(afterDeath.exp, 'g_liveall', { pid: pid(b) })).toBe(2);
  });

  // test_gauge_min, test_gauge_livemin, test_gauge_max, test_gauge_livemax
  it('test_gauge_min / livemin / max / livemax', () => {
    for (const m of ['min', 'livemin', 'max', 'livemax']) expect(value(initial.exp, `g_${m}`)).toBe(0);
    expect(value(recorded.exp, 'g_min')).toBe(1);
    expect(value(recorded.exp, 'g_livemin')).toBe(1);
    expect(value(afterDeath.exp, 'g_livemin')).toBe(2);
    expect(value(recorded.exp, 'g_max')).toBe(2);
    expect(value(recorded.exp, 'g_livemax')).toBe(2);
    expect(value(afterDeath.exp, 'g_livemax')).toBe(1);
  });

  // test_gauge_sum, test_gauge_livesum
  it('test_gauge_sum / livesum: 3; after the death 3 and 2', () => {
    expect(value(initial.exp, 'g_sum')).toBe(0);
    expect(value(recorded.exp, 'g_sum')).toBe(3);
    expect(value(afterDeath.exp, 'g_sum')).toBe(3);
    expect(value(recorded.exp, 'g_livesum')).toBe(3);
    expect(value(afterDeath.exp, 'g_livesum')).toBe(2);
  });

  // test_gauge_mostrecent, test_gauge_livemostrecent
  it('test_gauge_mostrecent / livemostrecent: the last set wins; after the death 1 and 2', () => {
    expect(value(recorded.exp, 'g_mostrecent')).toBe(1);
    expect(value(afterDeath.exp, 'g_mostrecent')).toBe(1);
    expect(value(recorded.exp, 'g_livemostrecent')).toBe(1);
    expect(value(afterDeath.exp, 'g_livemostrecent')).toBe(2);
  });

  // test_counter_across_forks: Python's forked child starts from its own zero; the parent's 2 stay.
  it('test_counter_across_forks: 2 from one process and 1 from another are 3, and stay 3 after the first died', () => {
    expect(value(recorded.exp, 'forks_total')).toBe(3);
    expect(value(afterDeath.exp, 'forks_total')).toBe(3);
  });

  // test_collect
  it('test_collect: counter 2, gauge per pid, histogram with both observations, every label kept', () => {
    expect(value(recorded.exp, 'collect_c_total', ABCD)).toBe(2);
    expect(value(recorded.exp, 'collect_g', { ...ABCD, pid: pid(a) })).toBe(1);
    expect(value(recorded.exp, 'collect_g', { ...ABCD, pid: pid(b) })).toBe(1);
    expect(value(recorded.exp, 'collect_h_sum', ABCD)).toBe(6);
    expect(value(recorded.exp, 'collect_h_count', ABCD)).toBe(2);
    const buckets = recorded.exp.samples
      .filter((s) => s.name === 'collect_h_bucket')
      .map((s) => [Number(s.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : s.labels.le), s.value]);
    // Python's expected list, le parsed as numbers ("1.0" there, "1" here).
    expect(buckets).toEqual([
      ...PYTHON_BUCKETS.map((le) => [le, le < 1 ? 0 : le < 5 ? 1 : 2]),
      [Number.POSITIVE_INFINITY, 2],
    ]);
  });

  // test_collect_histogram_ordering
  it('test_collect_histogram_ordering: each series whole and in order, view1 then view2', () => {
    const lines = recorded.exp.samples.filter((s) => s.name.startsWith('ordering_h'));
    const views = lines.map((s) => s.labels.view);
    expect(views).toEqual([...views.filter((v) => v === 'view1'), ...views.filter((v) => v === 'view2')]);
    for (const view of ['view1', 'view2']) {
      const les = lines.filter((s) => s.labels.view === view && s.name === 'ordering_h_bucket').map((s) => s.labels.le);
      expect(les).toEqual([...PYTHON_BUCKETS.map(String), '+Inf']);
    }
    expect(value(recorded.exp, 'ordering_h_bucket', { view: 'view1', le: '2.5' })).toBe(1);
    expect(value(recorded.exp, 'ordering_h_bucket', { view: 'view1', le: '5' })).toBe(2);
    expect(value(recorded.exp, 'ordering_h_sum', { view: 'view1' })).toBe(6);
    expect(value(recorded.exp, 'ordering_h_bucket', { view: 'view2', le: '5' })).toBe(1);
    expect(value(recorded.exp, 'ordering_h_count', { view: 'view2' })).toBe(1);
  });

  // test_collect_preserves_help
  it('test_collect_preserves_help', () => {
    const help = (name: string) => recorded.exp.families.find((f) => f.name === name)?.help;
    expect([help('collect_c_total'), help('collect_g'), help('collect_h')]).toEqual(['c help', 'g help', 'h help']);
  });

  // test_remove_clear_warning (see the recording above)
  it('test_remove_clear_warning: remove() and reset() of a counter keep its total', () => {
    expect(value(recorded.exp, 'removed_total', { label: 'label' })).toBe(1);
  });

  // test_child_name_is_built_once_with_namespace_subsystem_unit
  it('test_child_name_is_built_once_with_namespace_subsystem_unit: OpenMetrics family once, samples <family>_total', () => {
    const family = recorded.om.families.find((f) => f.name === 'ns_ss_m_seconds');
    expect(family?.type).toBe('counter');
    expect(new Set(family?.samples.map((s) => s.name))).toEqual(new Set(['ns_ss_m_seconds_total']));
    expect(family?.samples).toHaveLength(2);
  });

  // TestUnsetEnv.test_file_syncpath: a directory that is a file is refused, naming the path.
  it('TestUnsetEnv.test_file_syncpath: a store "directory" that is a file is an error naming it', () => {
    const file = join(tempDir().root, 'not-a-dir');
    writeFileSync(file, 'x');
    let error: unknown;
    try {
      openStore({ dir: file, logger: { warn: () => {} } }).health();
    } catch (err) {
      error = err;
    }
    expect(String((error as Error)?.message)).toContain(file);
  });
});

// Where the store differs on purpose (its README, "Differences from prom-client and Python's
// multiprocess mode"): these cases pin the store's documented behaviour; Python's is in the comment.
describe('prometheus_client/multiprocess.py semantics beyond its tests: documented differences (issue 13, section 2)', () => {
  // Python (_accumulate_metrics) compares the timestamps every set() writes, so A's set(1) again would
  // win (1). The store writes changed values only: the most recent change, B's 2, wins.
  it('mostrecent: setting the same value again is not a new write (Python: it is the most recent)', () => {
    expect(value(recorded.exp, 'mostrecent_again')).toBe(2);
  });

  // Python adds floats, so one NaN makes the sum NaN. The store leaves the NaN process out.
  it('sum / livesum with a NaN gauge merge the other processes (Python: NaN)', () => {
    expect(value(recorded.exp, 'nan_sum')).toBe(2);
    expect(value(recorded.exp, 'nan_livesum')).toBe(2);
  });
});
