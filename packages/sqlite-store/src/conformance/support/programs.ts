import fc from 'fast-check';
import { MULTIPROCESS_MODES } from '../../modes.js';
import type { Op } from './harness.js';

/**
 * Random prom-client programs for the differential test: a registry (maybe with default labels), up to
 * five metrics of every type and gauge mode, random label names and values including hard characters,
 * and up to 40 operations with flushes, reset()/remove()/resetMetrics() among them.
 *
 * What the programs leave out, and why (each is covered elsewhere or is a documented difference):
 * - values are multiples of 1/8 of at most 2^14: float totals telescoped from per-flush deltas then equal
 *   prom-client's exactly (near 2^53 they differ in the last digit, issue 13 section 2);
 * - no negative histogram or summary observations (OpenMetrics forbids their _sum; issue13-bugs.test.ts);
 * - no counter.inc(NaN) (issue13-bugs.test.ts, 1.2) and no lone UTF-16 surrogates in label values
 *   (issue 13 section 2);
 * - no label named `pid` on all/liveall gauges (issue13-bugs.test.ts, 1.3), `le` or `quantile`;
 * - default labels are set before any metric exists (the store encodes a series' labels once);
 * - reset()/remove() come right after a flush (see concrete());
 * - a series never sets a default label to the default's value (see concrete());
 * - no removeSingleMetric (issue13-bugs.test.ts, 1.5), histogram zero() (prom-client-rendering.test.ts),
 *   timers or setToCurrentTime (clock values).
 */

export type Kind = 'counter' | 'gauge' | 'histogram' | 'summary';

export interface MetricSpec {
  kind: Kind;
  name: string;
  help: string;
  labelNames: string[];
  mode: string | undefined;
  aggregator: string | undefined;
  buckets: number[] | undefined;
}

export interface Program {
  defaultLabels: Record<string, string> | undefined;
  metrics: MetricSpec[];
  ops: Op[];
}

const LABEL_NAMES = ['a', 'b_c', 'code', 'env', 'method', '_u', 'Zz9'];
const LABEL_VALUES = [
  '',
  'v',
  'GET',
  'a"b',
  'back\\slash',
  'new\nline',
  'tab\tx',
  'ünïcödé',
  '🙂',
  '{x="y"}',
  ' ',
  '0',
  'prod',
  '\\n',
];
const HELPS = ['help', 'with \\ backslash', 'two\nlines', 'quote " inside', 'ünï 🙂', 'trailing \\'];
const BUCKETS = [0.005, 0.1, 0.25, 0.5, 1, 2.5, 3, 10, 64, 1000, 1e6];
const AGGREGATORS = ['sum', 'first', 'min', 'max', 'average', 'omit'];

const eighths = (max: number) => fc.integer({ min: -max * 8, max: max * 8 }).map((k) => k / 8);

const metricArb = fc.record({
  kind: fc.constantFrom<Kind>('counter', 'gauge', 'histogram', 'summary'),
  suffix: fc.constantFrom('', '_total', ':x'),
  help: fc.constantFrom(...HELPS),
  labelNames: fc.shuffledSubarray(LABEL_NAMES, { maxLength: 3 }),
  mode: fc.constantFrom(undefined, ...MULTIPROCESS_MODES),
  aggregator: fc.option(fc.constantFrom(...AGGREGATORS), { nil: undefined }),
  buckets: fc.option(
    fc.uniqueArray(fc.constantFrom(...BUCKETS), { minLength: 1, maxLength: 6 }).map((b) => b.sort((x, y) => x - y)),
    { nil: undefined },
  ),
});

const rawOpArb = fc.record({
  metric: fc.nat(99),
  action: fc.nat(99),
  values: fc.array(fc.nat(99), { minLength: 3, maxLength: 3 }),
  omit: fc.array(fc.nat(3), { minLength: 3, maxLength: 3 }),
  x: eighths(1 << 14),
  special: fc.nat(29),
});

const defaultLabelsArb = fc.option(
  // Default label names that metrics also declare (env, a) as often as not (issue 13, 1.4).
  fc.dictionary(fc.constantFrom('env', 'region', 'a'), fc.constantFrom(...LABEL_VALUES), { maxKeys: 2 }),
  { nil: undefined },
);
const metricsArb = fc.array(metricArb, { minLength: 1, maxLength: 5, size: 'max' });
const opsArb = fc.array(rawOpArb, { minLength: 5, maxLength: 40, size: 'max' });

type RawMetric = typeof metricArb extends fc.Arbitrary<infer T> ? T : never;

function specsOf(metrics: RawMetric[], cluster: boolean): MetricSpec[] {
  return metrics.map((m, i) => ({
    kind: m.kind,
    name: `m${i}${m.kind !== 'counter' && m.suffix === '_total' ? '' : m.suffix}`,
    help: m.help,
    labelNames: m.labelNames,
    // Several writers: gauges in `sum` mode, the mode that matches prom-client's cluster default (its
    // `sum` aggregator asks every worker it is given; the store's sum keeps exited writers' last values).
    mode: m.kind === 'gauge' ? (cluster ? 'sum' : m.mode) : undefined,
    aggregator: m.kind === 'gauge' && !cluster ? m.aggregator : undefined,
    buckets: m.kind === 'histogram' ? m.buckets : undefined,
  }));
}

function programOf(
  defaultLabels: Record<string, string> | undefined,
  specs: MetricSpec[],
  ops: RawOp[],
  cluster: boolean,
): Program {
  const program: Op[] = [];
  if (defaultLabels && Object.keys(defaultLabels).length > 0) {
    program.push({ op: 'registry', method: 'setDefaultLabels', args: [defaultLabels] });
  }
  for (const s of specs) program.push({ op: 'define', kind: s.kind, config: configOf(s) });
  for (const raw of ops) program.push(...concrete(specs, raw, cluster, defaultLabels ?? {}));
  program.push({ op: 'flush' });
  return { defaultLabels, metrics: specs, ops: program };
}

export const programArb: fc.Arbitrary<Program> = fc
  .record({ defaultLabels: defaultLabelsArb, metrics: metricsArb, ops: opsArb })
  .map(({ defaultLabels, metrics, ops }) => programOf(defaultLabels, specsOf(metrics, false), ops, false));

/**
 * Several writers of the same definitions, each with its own operations, and which of them is
 * SIGKILLed after its last flush. No default labels: prom-client's getMetricsAsJSON() replaces an empty
 * label value by the default label of that name (`||`), unlike its own text rendering, so its cluster
 * aggregation is no reference for them (the one-writer programs cover default labels). Gauges are in `sum` mode and never NaN or infinite (NaN and Infinity
 * do not survive prom-client's JSON, which its cluster aggregation is fed with; a NaN gauge in a sum is
 * a difference of its own, python-multiprocess.test.ts).
 */
export interface Cluster {
  writers: Program[];
  killed: number;
}

export const clusterArb: fc.Arbitrary<Cluster> = fc
  .record({
    metrics: metricsArb,
    writers: fc.array(opsArb, { minLength: 2, maxLength: 3 }),
    killed: fc.nat(2),
  })
  .map(({ metrics, writers, killed }) => {
    const specs = specsOf(metrics, true);
    return {
      writers: writers.map((ops) => programOf(undefined, specs, ops, true)),
      killed: killed % writers.length,
    };
  });

function configOf(s: MetricSpec): Record<string, unknown> {
  const config: Record<string, unknown> = { name: s.name, help: s.help, labelNames: s.labelNames };
  if (s.mode !== undefined) config.multiprocessMode = s.mode;
  if (s.aggregator !== undefined) config.aggregator = s.aggregator;
  if (s.buckets !== undefined) config.buckets = s.buckets;
  if (s.kind === 'summary') config.percentiles = [0.5, 0.9];
  return config;
}

type RawOp = { metric: number; action: number; values: number[]; omit: number[]; x: number; special: number };

/**
 * One generated operation. A reset/remove comes right after a flush: what is recorded and then removed
 * between two flushes is never seen by the store (it reads prom-client's values at flush time), so the
 * reference could not tell what the store should have. Growing back after it is what issue 13, 1.1 is about.
 */
function concrete(specs: MetricSpec[], raw: RawOp, cluster: boolean, defaults: Record<string, string>): Op[] {
  if (raw.action >= 98) return [FLUSH, { op: 'registry', method: 'resetMetrics' }];
  if (raw.action >= 85) return [FLUSH];
  const m = specs[raw.metric % specs.length] as MetricSpec;
  const labels: Record<string, string> = {};
  m.labelNames.forEach((name, j) => {
    if (raw.omit[j] === 0) return; // prom-client lets a series leave a declared label out
    const v = LABEL_VALUES[(raw.values[j] ?? 0) % LABEL_VALUES.length] as string;
    // A series that sets a default label to the default's own value is left without it: prom-client
    // keeps that one and the one that leaves it out apart and renders both with the same labels (a
    // duplicate sample, which Prometheus rejects); the store makes them one series.
    if (defaults[name] !== v) labels[name] = v;
  });
  if (raw.action >= 80) return [FLUSH, { op: 'call', name: m.name, method: 'reset' }];
  if (raw.action >= 74) return [FLUSH, { op: 'call', name: m.name, method: 'remove', args: [labels] }];
  const x = Math.abs(raw.x);
  if (m.kind === 'counter') return [{ op: 'call', name: m.name, method: 'inc', args: [labels, x] }];
  if (m.kind === 'histogram' || m.kind === 'summary')
    return [{ op: 'call', name: m.name, method: 'observe', args: [labels, x] }];
  const special = cluster ? undefined : [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY][raw.special];
  const method = ['set', 'set', 'inc', 'dec'][raw.action % 4] as string;
  const v = method === 'set' && special !== undefined ? { $n: String(special) } : method === 'set' ? raw.x : x;
  return [{ op: 'call', name: m.name, method, args: [labels, v] }];
}

const FLUSH: Op = { op: 'flush' };
