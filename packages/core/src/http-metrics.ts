import { Gauge, Histogram, type Registry } from 'prom-client';
import { batchable, drainBatches } from './observation-batch.js';

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

/**
 * Define (or reuse, when a registry already holds them) the HTTP metrics every adapter shares:
 * `http_request_duration_seconds{method,route,status_code}` and `http_server_active_requests{method}`
 * (merged across processes as a sum over live processes).
 */
export function defineHttpMetrics(registry: Registry, options: HttpMetricsOptions): HttpMetrics {
  const labelNames = ['method', 'route', 'status_code', ...options.extraLabelNames];
  const p = options.prefix;
  const reuse = <M>(name: string, make: () => M): M => (registry.getSingleMetric(p + name) as M | undefined) ?? make();
  /** A request histogram: its collect() applies the batched observations, so they may be batched into it. */
  const histogram = (name: string, help: string, buckets: readonly number[]) =>
    reuse(name, () => {
      const made = new Histogram({
        name: p + name,
        help,
        labelNames,
        buckets: [...buckets],
        registers: [registry],
        collect() {
          drainBatches(this);
        },
      });
      batchable(made);
      return made;
    });
  return {
    duration: histogram(
      HTTP_DURATION_NAME,
      'Duration of HTTP requests in seconds, by method, route template and status code',
      options.buckets,
    ),
    inFlight: inFlightOf(
      reuse(HTTP_ACTIVE_NAME, () => {
        const counts: InFlightCounts = new Map();
        const gauge = new Gauge({
          name: p + HTTP_ACTIVE_NAME,
          help: 'HTTP requests being served right now, by method',
          labelNames: ['method'],
          registers: [registry],
          multiprocessMode: 'livesum',
          collect() {
            for (const [method, count] of counts) this.set({ method }, count.n);
          },
        });
        inFlightCounts.set(gauge, counts);
        return gauge;
      }),
      p + HTTP_ACTIVE_NAME,
    ),
    requestSize: options.requestSizes
      ? histogram(HTTP_REQUEST_SIZE_NAME, 'Size of HTTP request bodies received, in bytes', HTTP_SIZE_BUCKETS)
      : undefined,
    responseSize: options.responseSizes
      ? histogram(HTTP_RESPONSE_SIZE_NAME, 'Size of HTTP response bodies actually sent, in bytes', HTTP_SIZE_BUCKETS)
      : undefined,
  };
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
