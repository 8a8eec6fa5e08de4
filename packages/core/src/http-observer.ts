import type { Histogram } from 'prom-client';
import { addToEntry, beforeClearing, type HistogramEntry, type HistogramState } from './fast-observe.js';
import { recordedStatus, statusLabel } from './labels.js';

/** Observe one request in a histogram labelled exactly `method`, `route`, `status_code`. */
export type HttpObserve = (method: string, route: string, status: number, value: number) => void;

/** A series seen before: its method, prom-client's entry, and the generation it was found in. */
interface Leaf {
  method: string;
  entry: HistogramEntry;
  generation: number;
}

const LABEL_NAMES = ['method', 'route', 'status_code'];

/**
 * The observer of the HTTP histograms when no custom labels are configured: the recorder's hottest call.
 *
 * {@link fastObserver} builds a labels object and walks one Map per label, each read a keyed property
 * load, then checks prom-client's hashMap by key. Here a series is found by its route (one Map look-up),
 * its status (an array index) and its method (one or two string comparisons), and no object is made per
 * request. Instead of looking the entry up in prom-client's hashMap on every request, the cache is
 * dropped whenever the histogram's reset(), remove() or zero() runs (they are the only ones that take
 * entries out of the map or replace them), or when its hashMap object is replaced. A new series, a value
 * that is not a finite number, or a prom-client whose internals differ go through prom-client's observe().
 *
 * @example
 * const observe = httpObserver(histogram);
 * observe('GET', '/api/tree/', 200, 0.012);
 */
export function httpObserver(histogram: Histogram<string>): HttpObserve {
  const state = histogram as unknown as HistogramState;
  const slow: HttpObserve = (method, route, status, value) =>
    histogram.observe({ method, route, status_code: statusLabel(status) }, value);
  const names = state.sortedLabelNames;
  const bounds = state.upperBounds;
  if (
    !Array.isArray(names) ||
    names.join() !== LABEL_NAMES.join() ||
    !Array.isArray(bounds) ||
    state.enableExemplars === true
  ) {
    return slow;
  }
  const keys = bounds.map(String);
  let generation = 0;
  let hashMap = state.hashMap;
  beforeClearing(histogram, () => generation++);
  const byRoute = new Map<string, (Leaf[] | undefined)[]>();
  let usable = true;

  return (method, route, status, value) => {
    const index = recordedStatus(status);
    const leaves = byRoute.get(route)?.[index];
    let leaf: Leaf | undefined;
    if (leaves !== undefined) {
      for (let i = 0; i < leaves.length; i++) {
        if ((leaves[i] as Leaf).method === method) {
          leaf = leaves[i];
          break;
        }
      }
    }
    if (
      !usable ||
      leaf === undefined ||
      leaf.generation !== generation ||
      state.hashMap !== hashMap ||
      !Number.isFinite(value)
    ) {
      slow(method, route, index, value);
      usable = usable && remember(method, route, index);
      return;
    }
    addToEntry(leaf.entry, bounds, keys, value);
  };

  /** After prom-client's observe(): keep its entry; false when it is not where prom-client 15 files it. */
  function remember(method: string, route: string, status: number): boolean {
    if (state.hashMap !== hashMap) {
      hashMap = state.hashMap; // replaced (reset): every remembered entry is stale
      byRoute.clear();
    }
    const label = statusLabel(status);
    const entry = hashMap?.[`method:${method},route:${route},status_code:${label},`];
    const labels = entry?.labels;
    if (entry === undefined || labels?.method !== method || labels.route !== route || labels.status_code !== label) {
      return false;
    }
    let byStatus = byRoute.get(route);
    if (byStatus === undefined) {
      byStatus = [];
      byRoute.set(route, byStatus);
    }
    let leaves = byStatus[status];
    if (leaves === undefined) {
      leaves = [];
      byStatus[status] = leaves;
    }
    const known = leaves.find((l) => l.method === method);
    if (known) {
      known.entry = entry;
      known.generation = generation;
    } else {
      leaves.push({ method, entry, generation });
    }
    return true;
  }
}
