import type { Histogram } from 'prom-client';
import { formatValue } from './errors.js';
import { fastObserver } from './fast-observe.js';

/** What the `exemplars` option returns for a request: exemplar labels, or undefined for none. */
export type ExemplarSource<Ctx> = (ctx: Ctx) => Readonly<Record<string, string>> | undefined;

/**
 * OpenMetrics: "The combined length of the label names and values of an Exemplar's LabelSet MUST NOT
 * exceed 128 UTF-8 characters." prom-client (lib/exemplar.js) counts UTF-16 code units, never fewer than
 * code points, so checking its way keeps both satisfied.
 */
export const EXEMPLAR_LABEL_CHARS = 128;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Observe one request with the labels object of its series, and the context exemplar labels come from. */
export type ExemplarObserve = (labels: Record<string, string>, value: number, ctx: unknown) => void;

/**
 * The observer of a histogram defined with `enableExemplars: true`: each observation carries the labels
 * `source` returns for the request's context, as prom-client 15 keeps them (the latest exemplar per
 * series and bucket, which the store reads and merges).
 *
 * A source that throws, or returns anything but a flat object of strings with valid names within the
 * 128-character limit, costs the exemplar, never the observation, and is reported once (`warn`). Checked
 * before prom-client sees them: its observe() counts the value and then throws a RangeError for labels
 * that are too long, leaving an empty exemplar behind in the bucket that renders as `# {} null`.
 *
 * @example
 * const observe = exemplarObserver(histogram, (req) => ({ trace_id: traceIdOf(req) }));
 * observe({ method: 'GET', route: '/api/tree/', status_code: '200' }, 0.012, req);
 */
export function exemplarObserver<Ctx>(
  histogram: Histogram<string>,
  source: ExemplarSource<Ctx>,
  warn: (message: string) => void = console.warn,
): ExemplarObserve {
  // A request without exemplar is only counted: the fast path, as with custom labels.
  const withoutExemplar = fastObserver(histogram, true);
  const update = updateExemplarOf(histogram);
  let reported = false;
  const report = (problem: string) => {
    if (reported) return;
    reported = true;
    warn(
      `[kci-metrics] @kci-metrics/core: the exemplars option ${problem}; such requests are recorded without ` +
        'an exemplar (reported once)',
    );
  };
  return (labels, value, ctx) => {
    let exemplarLabels: Record<string, string> | undefined;
    try {
      const result = checkExemplarLabels(source(ctx as Ctx));
      if (typeof result === 'string') report(result);
      else exemplarLabels = result;
    } catch (error) {
      report(`threw ${error instanceof Error ? `${error.name}: ${error.message}` : formatValue(error)}`);
    }
    if (exemplarLabels === undefined) withoutExemplar(labels, value);
    else if (update === undefined) histogram.observe({ labels, value, exemplarLabels });
    else {
      // Counted on the fast path, then prom-client's own updateExemplar(): the second half of its
      // observeWithExemplar(), without the first half's label validation and look-up again.
      withoutExemplar(labels, value);
      update.call(histogram, labels, value, exemplarLabels);
    }
  };
}

/**
 * prom-client 15's `updateExemplar(labels, value, exemplarLabels)` of a histogram with exemplars (what its
 * observe() runs after counting), or undefined when this prom-client has none: then observe() does both.
 */
function updateExemplarOf(histogram: Histogram<string>): ((...args: unknown[]) => void) | undefined {
  const state = histogram as unknown as { enableExemplars?: unknown; updateExemplar?: unknown };
  const update = state.updateExemplar;
  return state.enableExemplars === true && typeof update === 'function' && update.length === 3
    ? (update as (...args: unknown[]) => void)
    : undefined;
}

/**
 * The exemplar labels to record for what a source returned (a copy, so that the app changing its object
 * later does not change the exemplar), undefined for none (undefined, null or `{}`), or what is wrong.
 */
export function checkExemplarLabels(result: unknown): Record<string, string> | undefined | string {
  if (result === undefined || result === null) return undefined;
  if (typeof result !== 'object' || Array.isArray(result)) {
    return `returned ${formatValue(result)}: expected an object of label name to string, or undefined`;
  }
  const labels: Record<string, string> = {};
  let chars = 0;
  let empty = true;
  for (const name of Object.keys(result)) {
    const value = (result as Record<string, unknown>)[name];
    if (!LABEL_NAME.test(name)) {
      return `returned the label name ${formatValue(name)}: expected a name matching [a-zA-Z_][a-zA-Z0-9_]*`;
    }
    if (typeof value !== 'string') return `returned ${formatValue(value)} for label ${name}: expected a string`;
    chars += name.length + value.length;
    labels[name] = value;
    empty = false;
  }
  if (chars > EXEMPLAR_LABEL_CHARS) {
    const shown = JSON.stringify(labels);
    return (
      `returned labels of ${chars} characters, ${shown.length > 100 ? `${shown.slice(0, 97)}...` : shown}: ` +
      `expected at most ${EXEMPLAR_LABEL_CHARS}, names and values together (OpenMetrics)`
    );
  }
  return empty ? undefined : labels;
}
