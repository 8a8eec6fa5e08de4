/**
 * Metrics shaped like prom-client's unreleased main branch ("Breaking – Metric internal storage changed
 * to LabelMap"): values in `metric.store`, a LabelMap whose Map is private, no `hashMap`; the public surface
 * (`get()`, `inc()`, `set()`, `observe()`, `reset()`, `remove()`) as prom-client's. Written for the tests
 * from reading siimon/prom-client's lib/ on main (util.js LabelMap, counter.js, gauge.js, histogram.js);
 * none of its code is copied. Registered in a prom-client 15 Registry with registerMetric().
 */

type Labels = Record<string, string | number>;

class LabelMap<T> {
  readonly #map = new Map<string, { labels: Labels; value: T }>();
  readonly #names: string[];
  constructor(names: readonly string[]) {
    this.#names = [...names].sort();
  }
  private key(labels: Labels): string {
    return this.#names.map((n) => `${labels[n] ?? ''}|`).join('');
  }
  getOrAdd(labels: Labels, init: () => T): { labels: Labels; value: T } {
    const k = this.key(labels);
    let e = this.#map.get(k);
    if (!e) {
      e = { labels: { ...labels }, value: init() };
      this.#map.set(k, e);
    }
    return e;
  }
  remove(labels: Labels): void {
    this.#map.delete(this.key(labels));
  }
  values(): IterableIterator<{ labels: Labels; value: T }> {
    return this.#map.values();
  }
}

interface Config {
  name: string;
  help: string;
  labelNames?: string[];
}

abstract class Base<T> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: string[];
  readonly aggregator = 'sum';
  store: LabelMap<T>;
  abstract readonly type: string;
  constructor(config: Config) {
    this.name = config.name;
    this.help = config.help;
    this.labelNames = config.labelNames ?? [];
    this.store = new LabelMap(this.labelNames);
  }
  reset(): void {
    this.store = new LabelMap(this.labelNames);
  }
  remove(labels: Labels): void {
    this.store.remove(labels);
  }
}

export class LabelMapCounter extends Base<number> {
  readonly type = 'counter';
  inc(labels: Labels = {}, value = 1): void {
    this.store.getOrAdd(labels, () => 0).value += value;
  }
  async get() {
    const values = [...this.store.values()].map((e) => ({ labels: e.labels, value: e.value }));
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }
}

export class LabelMapGauge extends Base<number> {
  readonly type = 'gauge';
  readonly multiprocessMode: string | undefined;
  constructor(config: Config & { multiprocessMode?: string }) {
    super(config);
    this.multiprocessMode = config.multiprocessMode;
  }
  set(labels: Labels, value: number): void {
    this.store.getOrAdd(labels, () => 0).value = value;
  }
  async get() {
    const values = [...this.store.values()].map((e) => ({ labels: e.labels, value: e.value }));
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }
}

interface HistogramValue {
  buckets: number[];
  sum: number;
  count: number;
}

export class LabelMapHistogram extends Base<HistogramValue> {
  readonly type = 'histogram';
  readonly upperBounds: number[];
  constructor(config: Config & { buckets: number[] }) {
    super(config);
    this.upperBounds = config.buckets;
  }
  observe(labels: Labels, value: number): void {
    const e = this.store.getOrAdd(labels, () => ({ buckets: this.upperBounds.map(() => 0), sum: 0, count: 0 }));
    const i = this.upperBounds.findIndex((b) => value <= b);
    if (i >= 0) e.value.buckets[i] = (e.value.buckets[i] ?? 0) + 1;
    e.value.sum += value;
    e.value.count += 1;
  }
  async get() {
    const values: Array<{ labels: Labels; value: number; metricName: string }> = [];
    for (const { labels, value } of this.store.values()) {
      let acc = 0;
      this.upperBounds.forEach((b, i) => {
        acc += value.buckets[i] ?? 0;
        values.push({ labels: { ...labels, le: b }, value: acc, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: { ...labels, le: '+Inf' }, value: value.count, metricName: `${this.name}_bucket` });
      values.push({ labels, value: value.sum, metricName: `${this.name}_sum` });
      values.push({ labels, value: value.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }
}

/** Keeps its default labels privately, as a registry that moved away from `_defaultLabels` would. */
class LabelMapRegistry {
  readonly #defaults = new Map<string, string>();
  setDefaultLabels(labels: Record<string, string>) {
    for (const [k, v] of Object.entries(labels)) this.#defaults.set(k, v);
  }
  defaults(): Record<string, string> {
    return Object.fromEntries(this.#defaults);
  }
}

/** A prom-client-like module whose metrics keep their values in a LabelMap (for checkPromClient()). */
export const labelMapClient = {
  Counter: LabelMapCounter,
  Gauge: LabelMapGauge,
  Histogram: LabelMapHistogram,
  Summary: LabelMapCounter,
  Registry: LabelMapRegistry,
};
