/**
 * The workload of prior-art.md ("Measured on this project's machine class"): S label sets of one counter
 * `http_requests_total` (incremented by 3) and one 11-bucket histogram `http_request_duration_seconds`,
 * labels method (4 values), endpoint, status. Every worker holds the same S label sets, as the workers of
 * one backend serve the same endpoints, so the merged exposition has S series per metric whatever W is.
 */

export const METHODS = ['GET', 'POST', 'PUT', 'DELETE'];
export const STATUSES = ['200', '201', '400', '404', '500'];
export const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
export const COUNTER_INC = 3;
/** The numbers stored per label set: the counter's value, the histogram's buckets, sum and count. */
export const NUMBERS_PER_LABEL_SET = 1 + BUCKETS.length + 2;

/**
 * S distinct label sets: method cycles fastest, then status, then endpoint.
 *
 * @example
 * labelSets(2); // [{ method: 'GET', endpoint: '/api/e0', status: '200' }, { method: 'POST', ... }]
 */
export function labelSets(size) {
  if (!Number.isInteger(size) || size < 1)
    throw new Error(`Invalid series count ${JSON.stringify(size)}: expected an integer >= 1`);
  const out = new Array(size);
  const perEndpoint = METHODS.length * STATUSES.length;
  for (let i = 0; i < size; i++) {
    out[i] = {
      method: METHODS[i % METHODS.length],
      endpoint: `/api/e${Math.floor(i / perEndpoint)}`,
      status: STATUSES[Math.floor(i / METHODS.length) % STATUSES.length],
    };
  }
  return out;
}

/** A deterministic duration for series i, spread over every bucket (0 to ~10 s). */
export function durationOf(i) {
  return ((i * 7919) % 1013) / 100;
}

/**
 * Register the workload's two metrics on a prom-client registry.
 *
 * @example
 * const m = defineMetrics(promClient, new promClient.Registry());
 * touch(m, labels, 0);
 */
export function defineMetrics(promClient, registry) {
  const labelNames = ['method', 'endpoint', 'status'];
  return {
    counter: new promClient.Counter({
      name: 'http_requests_total',
      help: 'Requests served.',
      labelNames,
      registers: [registry],
    }),
    histogram: new promClient.Histogram({
      name: 'http_request_duration_seconds',
      help: 'Request duration.',
      labelNames,
      buckets: BUCKETS,
      registers: [registry],
    }),
  };
}

/** One recorded request: the labelled counter inc plus histogram observe the record benchmark times. */
export function touch(metrics, labels, i) {
  metrics.counter.inc(labels, COUNTER_INC);
  metrics.histogram.observe(labels, durationOf(i));
}

/** Sum of the `http_requests_total` samples in a text exposition (a check that both sides saw everything). */
export function counterTotal(text) {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith('http_requests_total{') && !line.startsWith('http_requests_total ')) continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}
