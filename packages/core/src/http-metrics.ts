import { Gauge, type GaugeConfiguration, Histogram, type Registry } from 'prom-client';
import { ConfigError } from './errors.js';

/** The buckets of `http_request_duration_seconds`, in seconds (the seed's dashboard relies on them). */
export const HTTP_DURATION_BUCKETS: readonly number[] = [
  0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10,
];

/** Buckets of the optional request/response size histograms, in bytes (100 B to 10 MB). */
export const HTTP_SIZE_BUCKETS: readonly number[] = [100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000];

export const HTTP_DURATION_NAME = 'http_request_duration_seconds';
export const HTTP_ACTIVE_NAME = 'http_server_active_requests';
export const HTTP_REQUEST_SIZE_NAME = 'http_request_size_bytes';
export const HTTP_RESPONSE_SIZE_NAME = 'http_response_size_bytes';

export interface HttpMetricsOptions {
  prefix: string;
  buckets: readonly number[];
  /** Names of the extra labels (static and per-request custom labels). */
  extraLabelNames: readonly string[];
  requestSizes: boolean;
  responseSizes: boolean;
  /** Define the duration histogram with prom-client's `enableExemplars` (the size histograms never). */
  exemplars?: boolean;
}

export interface HttpMetrics {
  duration: Histogram<string>;
  /**
   * Requests in flight per method. Counted in plain objects on the request path and copied into the
   * `http_server_active_requests` gauge by its collect() when the registry is read (a scrape, or a store
   * flush): no prom-client label look-up per request, on the hottest path.
   */
  inFlight: InFlightCounts;
  requestSize: Histogram<string> | undefined;
  responseSize: Histogram<string> | undefined;
}

const DURATION_HELP = 'Duration of HTTP requests in seconds, by method, route template and status code';
const ACTIVE_HELP = 'HTTP requests being served right now, by method';
const REQUEST_SIZE_HELP = 'Size of HTTP request bodies received, in bytes';
const RESPONSE_SIZE_HELP = 'Size of HTTP response bodies actually sent, in bytes';

/**
 * Define (or reuse, when a registry already holds them) the HTTP metrics every adapter shares:
 * `http_request_duration_seconds{method,route,status_code}` and `http_server_active_requests{method}`
 * (merged across processes as a sum over live processes).
 *
 * A metric of the same name already in the registry is reused only when it is the same definition: the
 * same type, label names, buckets and exemplars setting. Otherwise this throws a ConfigError naming the metric and the
 * difference, before defining anything: reused as it was, prom-client would reject every observation
 * with other labels (and silently, since metrics never fail a request), or count them in other buckets.
 *
 * @example
 * const metrics = defineHttpMetrics(registry, {
 *   prefix: '', buckets: HTTP_DURATION_BUCKETS, extraLabelNames: [], requestSizes: false, responseSizes: false,
 * });
 */
export function defineHttpMetrics(registry: Registry, options: HttpMetricsOptions): HttpMetrics {
  const labelNames = ['method', 'route', 'status_code', ...options.extraLabelNames];
  const p = options.prefix;
  type Definition = [name: string, help: string, buckets: readonly number[], exemplars: boolean];
  const duration: Definition = [p + HTTP_DURATION_NAME, DURATION_HELP, options.buckets, options.exemplars === true];
  const requestSize: Definition | undefined = options.requestSizes
    ? [p + HTTP_REQUEST_SIZE_NAME, REQUEST_SIZE_HELP, HTTP_SIZE_BUCKETS, false]
    : undefined;
  const responseSize: Definition | undefined = options.responseSizes
    ? [p + HTTP_RESPONSE_SIZE_NAME, RESPONSE_SIZE_HELP, HTTP_SIZE_BUCKETS, false]
    : undefined;
  for (const definition of [duration, requestSize, responseSize]) {
    if (definition) checkExisting(registry, definition[0], 'histogram', labelNames, definition[2], definition[3]);
  }
  checkExisting(registry, p + HTTP_ACTIVE_NAME, 'gauge', ['method'], undefined, false);
  const active = registry.getSingleMetric(p + HTTP_ACTIVE_NAME);
  if (active !== undefined) inFlightOf(active as Gauge<string>, p + HTTP_ACTIVE_NAME); // defined here, or refused

  /** A request histogram: its collect() runs its {@link readHooks}, so it may be batched into. */
  const histogram = (name: string, help: string, buckets: readonly number[], exemplars: boolean) => {
    const existing = registry.getSingleMetric(name) as Histogram<string> | undefined;
    if (existing) return existing;
    const hooks = new Set<() => void>();
    const made = new Histogram({
      name,
      help,
      labelNames,
      buckets: [...buckets],
      registers: [registry],
      collect() {
        for (const hook of hooks) hook();
      },
      // Only when asked: a histogram without exemplars is defined exactly as before they existed.
      ...(exemplars ? { enableExemplars: true } : {}),
    });
    hooksBeforeRead.set(made, hooks);
    return made;
  };
  // In the registry's (and so the exposition's) order: duration, in flight, sizes.
  return {
    duration: histogram(...duration),
    inFlight: inFlightCountsOf(registry, p + HTTP_ACTIVE_NAME),
    requestSize: requestSize && histogram(...requestSize),
    responseSize: responseSize && histogram(...responseSize),
  };
}

/** The parts of a prom-client (15.x) metric that say what it was defined as. */
interface Defined {
  type?: unknown;
  labelNames?: unknown;
  upperBounds?: unknown;
  enableExemplars?: unknown;
}

/**
 * Throw a ConfigError when `name` is in the registry with another type, other label names, other buckets
 * or another exemplars setting (prom-client's observe() of a histogram with exemplars takes another
 * argument shape: every observation of a recorder that does not expect them would throw, silently).
 */
function checkExisting(
  registry: Registry,
  name: string,
  type: string,
  labelNames: readonly string[],
  buckets: readonly number[] | undefined,
  exemplars: boolean,
): void {
  const metric = registry.getSingleMetric(name) as Defined | undefined;
  if (metric === undefined) return;
  const hint =
    'is already in the registry; recorders that share a registry need the same customLabels, buckets and exemplars, or another prefix';
  if (metric.type !== type) throw new ConfigError(`type of ${name}`, metric.type, `"${type}" (${name} ${hint})`);
  const had = Array.isArray(metric.labelNames) ? (metric.labelNames as string[]) : [];
  if ([...had].sort().join() !== [...labelNames].sort().join()) {
    throw new ConfigError(`labels of ${name}`, labelNames, `${JSON.stringify(had)} (${name} ${hint})`);
  }
  const bounds = Array.isArray(metric.upperBounds) ? (metric.upperBounds as number[]) : [];
  if (buckets !== undefined && bounds.join() !== buckets.join()) {
    throw new ConfigError(`buckets of ${name}`, buckets, `${JSON.stringify(bounds)} (${name} ${hint})`);
  }
  const hadExemplars = metric.enableExemplars === true;
  if (hadExemplars !== exemplars) {
    const setting = (on: boolean) => (on ? 'exemplars on' : 'exemplars off');
    throw new ConfigError(`exemplars of ${name}`, setting(exemplars), `"${setting(hadExemplars)}" (${name} ${hint})`);
  }
}

const hooksBeforeRead = new WeakMap<object, Set<() => void>>();

/**
 * The hooks a request histogram defined here runs in its collect(), before anything reads it (a scrape,
 * prom-client's get(), a store flush): where batched observers apply what they hold. Undefined for a
 * histogram defined by someone else, which nothing may batch into.
 */
export function readHooks(histogram: Histogram<string>): Set<() => void> | undefined {
  return hooksBeforeRead.get(histogram);
}

/** The in-flight counts behind the gauge `name` of the registry, defining the gauge on first use. */
function inFlightCountsOf(registry: Registry, name: string): InFlightCounts {
  const existing = registry.getSingleMetric(name);
  if (existing) return inFlightOf(existing as Gauge<string>, name);
  const counts: InFlightCounts = new Map();
  // `multiprocessMode` is read by @kci-metrics/sqlite-store, which also adds it to prom-client's type; core
  // does not depend on the store, so it spells the field out here.
  const config: GaugeConfiguration<string> & { multiprocessMode: 'livesum' } = {
    name,
    help: ACTIVE_HELP,
    labelNames: ['method'],
    registers: [registry],
    multiprocessMode: 'livesum',
    collect() {
      for (const [method, count] of counts) this.set({ method }, count.n);
    },
  };
  const gauge = new Gauge(config);
  inFlightCounts.set(gauge, counts);
  return counts;
}

/** Requests in flight by method; a request holds on to its method's counter until it ends. */
export type InFlightCounts = Map<string, { n: number }>;

/** The counter of `method` in `counts`, made on first use. */
export function inFlightCounter(counts: InFlightCounts, method: string): { n: number } {
  let counter = counts.get(method);
  if (counter === undefined) {
    counter = { n: 0 };
    counts.set(method, counter);
  }
  return counter;
}

/** The in-flight counts behind each gauge this module made, shared by every recorder on its registry. */
const inFlightCounts = new WeakMap<Gauge<string>, InFlightCounts>();

function inFlightOf(gauge: Gauge<string>, name: string): InFlightCounts {
  const counts = inFlightCounts.get(gauge);
  if (!counts) {
    throw new Error(
      `Metric ${name} exists in the registry but was not defined by @kci-metrics/core; use another prefix`,
    );
  }
  return counts;
}
