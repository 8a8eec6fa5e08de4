import type { Histogram } from 'prom-client';

/** The parts of a prom-client (15.x) Histogram an observation updates. */
export interface HistogramState {
  hashMap?: Record<string, HistogramEntry | undefined>;
  sortedLabelNames?: readonly string[];
  upperBounds?: readonly number[];
  enableExemplars?: boolean;
}
export interface HistogramEntry {
  labels: Record<string, unknown>;
  sum: number;
  count: number;
  bucketValues: Record<string, number>;
}

/** A series seen before: prom-client's entry for it, and the key prom-client files it under. */
interface Known {
  hash: string;
  entry: HistogramEntry;
}
/** Label values in sorted-name order, one Map level per label, down to the series. */
type Level = Map<unknown, Level | Known>;

/**
 * An `observe(labels, value)` for a histogram that is recorded on every request.
 *
 * prom-client's own observe() validates the label names, builds and hashes a key string, and turns the
 * bucket bound (a double) into a property key twice per call: in a server it cost several microseconds per
 * request, most of the recorder's share of a request. Here a series seen before is found through one Map
 * per label (the values are the same string objects request after request, so nothing is built or
 * hashed) and updated in place, after checking that prom-client still files that very entry under its
 * key (a reset() or remove() replaces it). Anything else (a new series, exemplars, a prom-client whose
 * internals differ, a value that is not a finite number) goes through prom-client's observe(), so a
 * result never depends on this shortcut, only the speed does.
 *
 * `withoutExemplar`: the histogram may have exemplars, and these observations carry none (prom-client's
 * observe() of such a histogram takes `{ labels, value }` and, without exemplar labels, only counts, as
 * here); the observations that carry one go through prom-client (exemplars.ts).
 *
 * @example
 * const observe = fastObserver(histogram);
 * observe({ method: 'GET', route: '/api/tree/', status_code: '200' }, 0.012);
 */
export function fastObserver(
  histogram: Histogram<string>,
  withoutExemplar = false,
): (labels: Record<string, string>, value: number) => void {
  const state = histogram as unknown as HistogramState;
  const names = state.sortedLabelNames;
  const bounds = state.upperBounds;
  const exemplars = state.enableExemplars === true;
  const slow =
    exemplars && withoutExemplar
      ? (labels: Record<string, string>, value: number) => histogram.observe({ labels, value })
      : (labels: Record<string, string>, value: number) => histogram.observe(labels, value);
  if (!Array.isArray(names) || !Array.isArray(bounds) || (exemplars && !withoutExemplar)) return slow;
  const keys = bounds.map(String);
  const root: Level = new Map();
  let usable = true;
  return (labels, value) => {
    if (!usable) return slow(labels, value);
    let level = root;
    let known = names.length === 0 ? root.get(undefined) : undefined;
    for (let i = 0; i < names.length; i++) {
      known = level.get(labels[names[i] as string]);
      if (known === undefined) break;
      if (i < names.length - 1) level = known as Level;
    }
    const leaf = known as Known | undefined;
    if (leaf === undefined || state.hashMap?.[leaf.hash] !== leaf.entry || !Number.isFinite(value)) {
      slow(labels, value);
      usable = remember(root, names, labels, state);
      return;
    }
    addToEntry(leaf.entry, bounds, keys, value);
  };
}

/**
 * Count `value` in prom-client's entry of a series, as its observe() would: sum, count, and the first
 * bucket whose bound it does not exceed (`keys` are the bounds as strings, prom-client's property keys).
 * Above the last bound it is counted in +Inf only, which prom-client derives from `count`.
 */
export function addToEntry(
  entry: HistogramEntry,
  bounds: readonly number[],
  keys: readonly string[],
  value: number,
): void {
  entry.sum += value;
  entry.count += 1;
  for (let i = 0; i < bounds.length; i++) {
    if (value <= (bounds[i] as number)) {
      const key = keys[i] as string;
      entry.bucketValues[key] = (entry.bucketValues[key] as number) + 1;
      return;
    }
  }
}

/**
 * Run `hook` before each call of the histogram's reset(), remove() and zero(): the only methods that take
 * prom-client's entries out of its map or replace them, so whatever holds on to entries (or to values not
 * yet applied to them) can let go first.
 */
export function beforeClearing(histogram: Histogram<string>, hook: () => void): void {
  for (const method of ['reset', 'remove', 'zero'] as const) {
    const original = histogram[method] as (...args: unknown[]) => unknown;
    Object.defineProperty(histogram, method, {
      configurable: true,
      writable: true,
      value: function (this: unknown, ...args: unknown[]) {
        hook();
        return original.apply(this, args);
      },
    });
  }
}

/**
 * After prom-client's observe(): find the entry it updated, by its key, and keep it for the next time.
 * False when it is not where prom-client 15 files it: this prom-client differs, use its observe() only.
 */
function remember(
  root: Level,
  names: readonly string[],
  labels: Record<string, string>,
  state: HistogramState,
): boolean {
  let hash = '';
  for (const name of names) hash += `${name}:${labels[name]},`;
  const entry = state.hashMap?.[hash];
  if (entry === undefined || !sameLabels(entry.labels, labels, names)) return false;
  let level = root;
  for (let i = 0; i < names.length - 1; i++) {
    const value = labels[names[i] as string];
    let next = level.get(value) as Level | undefined;
    if (next === undefined) {
      next = new Map();
      level.set(value, next);
    }
    level = next;
  }
  level.set(names.length === 0 ? undefined : labels[names[names.length - 1] as string], { hash, entry });
  return true;
}

function sameLabels(
  stored: Record<string, unknown>,
  labels: Record<string, string>,
  names: readonly string[],
): boolean {
  for (const name of names) if (stored[name] !== labels[name]) return false;
  return true;
}
