import type { Histogram } from 'prom-client';
import { fastObserver } from './fast-observe.js';
import { type HttpObserve, httpObserver } from './http-observer.js';
import { batched } from './observation-batch.js';
import { type HttpMetrics, type InFlightCounts, inFlightCounter } from './http-metrics.js';
import { statusLabel, UNMATCHED_ROUTE } from './labels.js';
import type { LabelSource, ResolvedOptions } from './options.js';
import type { RequestTimer } from './recorder.js';

type Observe = (labels: Record<string, string>, value: number) => void;

/** The observers of the request histograms (the size histograms are opt-in). */
interface Histograms<O> {
  duration: O;
  requestSize: O | undefined;
  responseSize: O | undefined;
}

/** What a request updates when it ends: by method, route and status, or by a labels object. */
export interface Observers {
  inFlight: InFlightCounts;
  plain: Histograms<HttpObserve> | undefined;
  labelled: Histograms<Observe> | undefined;
}

/** Without custom labels a series is (method, route, status_code): observed without a labels object. */
export function observersOf(metrics: HttpMetrics, plain: boolean): Observers {
  return {
    inFlight: metrics.inFlight,
    plain: plain ? histograms(metrics, (h) => batched(h, httpObserver(h))) : undefined,
    labelled: plain ? undefined : histograms(metrics, fastObserver),
  };
}

function histograms<O>(metrics: HttpMetrics, observer: (h: Histogram<string>) => O): Histograms<O> {
  return {
    duration: observer(metrics.duration),
    requestSize: metrics.requestSize && observer(metrics.requestSize),
    responseSize: metrics.responseSize && observer(metrics.responseSize),
  };
}

/** A request timed by hand (the recorder's `start()`), counted in flight until `end()`. */
export function startTimer<Ctx>(metrics: Observers, options: ResolvedOptions<Ctx>, method: string): RequestTimer<Ctx> {
  const startedAt = performance.now();
  const inFlight = inFlightCounter(metrics.inFlight, method);
  inFlight.n++;
  let ended = false;
  return {
    end(outcome) {
      if (ended) return;
      ended = true;
      inFlight.n--;
      const seconds = (performance.now() - startedAt) / 1000;
      const { statusCode, ctx, route, requestBytes, responseBytes } = outcome;
      record(metrics, options, method, statusCode, ctx, route, seconds, requestBytes, responseBytes);
    },
  };
}

/** Observe one finished request in the duration histogram and, when enabled, the size histograms. */
export function record<Ctx>(
  metrics: Observers,
  options: ResolvedOptions<Ctx>,
  method: string,
  statusCode: number,
  ctx: Ctx,
  route: string | undefined,
  seconds: number,
  requestBytes: number | undefined,
  responseBytes: number | undefined,
): void {
  const plain = metrics.plain;
  if (plain !== undefined) {
    const routeLabel = route ?? UNMATCHED_ROUTE;
    plain.duration(method, routeLabel, statusCode, seconds);
    if (plain.requestSize && isSize(requestBytes)) plain.requestSize(method, routeLabel, statusCode, requestBytes);
    if (plain.responseSize && isSize(responseBytes)) plain.responseSize(method, routeLabel, statusCode, responseBytes);
    return;
  }
  const labelled = metrics.labelled as Histograms<Observe>;
  const labels: Record<string, string> = {
    method,
    route: route ?? UNMATCHED_ROUTE,
    status_code: statusLabel(statusCode),
  };
  const custom = options.customLabels;
  // An indexed loop: for-of with destructuring allocated an iterator per request even for no labels.
  for (let i = 0; i < custom.length; i++) {
    const [name, source] = custom[i] as readonly [string, LabelSource<Ctx>];
    labels[name] = labelValue(source, ctx);
  }
  labelled.duration(labels, seconds);
  if (labelled.requestSize && isSize(requestBytes)) labelled.requestSize(labels, requestBytes);
  if (labelled.responseSize && isSize(responseBytes)) labelled.responseSize(labels, responseBytes);
}

function labelValue<Ctx>(source: string | ((ctx: Ctx) => string | number | undefined), ctx: Ctx): string {
  if (typeof source === 'string') return source;
  try {
    const v = source(ctx);
    return v === undefined ? '' : String(v);
  } catch {
    return ''; // a failing label function must never fail the request it describes
  }
}

function isSize(n: number | undefined): n is number {
  return typeof n === 'number' && Number.isFinite(n) && n >= 0;
}
