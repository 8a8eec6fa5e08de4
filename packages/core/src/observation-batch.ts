import type { Histogram } from 'prom-client';
import { beforeClearing } from './fast-observe.js';
import { readHooks } from './http-metrics.js';
import type { HttpObserve } from './http-observer.js';

/** How many observations wait before they are applied; every read of the histogram applies them first. */
const BATCH = 256;

/**
 * Observe through a small buffer that is applied 256 observations at a time, or whenever the histogram is
 * read: prom-client's get(), a registry's metrics() and the store's flush all call the histogram's collect()
 * first, and reset(), remove() and zero() apply the buffer before they run.
 *
 * Why: applying one observation touches a dozen cache lines of series, buckets and look-up tables that the
 * request in between (Express allocates tens of kilobytes per request) has pushed out of the CPU's caches.
 * Measured: 31 ns per observation in a loop, 1.2 µs with a cache-sized sweep between two; in the Express
 * demo, batching cut the worker CPU that metrics cost by 0.9 points (paired runs, 10 blocks). Values never
 * wait for time, only for the next read, which always sees all of them.
 *
 * A histogram without {@link readHooks} (defined by someone else) is observed directly.
 *
 * @example
 * const observe = batched(histogram, httpObserver(histogram));
 */
export function batched(histogram: Histogram<string>, observe: HttpObserve): HttpObserve {
  const set = readHooks(histogram);
  if (set === undefined) return observe;
  const methods = new Array<string>(BATCH);
  const routes = new Array<string>(BATCH);
  const statuses = new Float64Array(BATCH);
  const values = new Float64Array(BATCH);
  let n = 0;
  const drain = () => {
    const count = n;
    n = 0; // before applying: a throwing observation must not be applied twice
    for (let i = 0; i < count; i++)
      observe(methods[i] as string, routes[i] as string, statuses[i] as number, values[i] as number);
  };
  set.add(drain);
  beforeClearing(histogram, drain);
  return (method, route, status, value) => {
    if (!Number.isFinite(value)) return observe(method, route, status, value); // prom-client's error, now
    methods[n] = method;
    routes[n] = route;
    statuses[n] = status;
    values[n] = value;
    if (++n === BATCH) drain();
  };
}
