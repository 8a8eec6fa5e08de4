import type { ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks'; // not the global's accessor: see exchange.ts
import type { Histogram, Registry } from 'prom-client';
import type { ExchangeClaim, ExchangeSink } from './exchange.js';
import { type ExemplarSource, exemplarObserver } from './exemplars.js';
import { fastObserver } from './fast-observe.js';
import { defineHttpMetrics, type HttpMetrics, type InFlightCounts, inFlightCounter } from './http-metrics.js';
import { type HttpObserve, httpObserver } from './http-observer.js';
import { hasBody, normalizeMethod, statusLabel, UNMATCHED_ROUTE } from './labels.js';
import { batched } from './observation-batch.js';
import type { LabelSource, ResolvedOptions } from './options.js';

/**
 * One request, from when it is counted in flight to its {@link RequestPipeline.finish}, whichever way it
 * was seen: announced by node:http (then it is also the exchange's claim, the one object made per
 * request), watched by a 'close' listener, or timed by hand.
 */
export class PendingRequest implements ExchangeClaim {
  /** Body byte counters, when sizes are measured and the body could be watched. */
  requestBody: (() => number) | undefined = undefined;
  responseBody: (() => number) | undefined = undefined;
  /** The in-flight counter of its method, once it is counted. */
  counter: { n: number } | undefined = undefined;
  ended = false;
  /** The next claimed exchange on its connection (HTTP pipelining). */
  nextOnConnection: ExchangeClaim | undefined = undefined;

  /** The method label. */
  readonly method: string;

  constructor(
    /** The method as received: Node sends no body for HEAD, whatever the app writes. */
    readonly rawMethod: string | undefined,
    /** `performance.now()` when it started. */
    readonly startedAt: number,
    /** The adapter's request context and mount site, handed back to it for the route (undefined by hand). */
    readonly ctx: unknown,
    readonly site: unknown,
    /** The response it ends with, and who ends it, when node:http announced it (else undefined). */
    readonly response: ServerResponse | undefined,
    readonly sink: ExchangeSink | undefined,
  ) {
    this.method = normalizeMethod(rawMethod);
  }
}

/**
 * The request path of one recorder: its metrics and their observers; a request is counted in flight by
 * enter() and recorded by finish(), whichever way it was seen.
 */
export class RequestPipeline<Ctx> {
  private readonly observers: Observers;
  private readonly customLabels: ReadonlyArray<readonly [string, LabelSource<Ctx>]>;
  private lastMethod = '';
  private lastCounter = { n: 0 };

  /** Defines (or reuses) the HTTP metrics on `registry`; throws a ConfigError when they conflict. */
  constructor(registry: Registry, options: ResolvedOptions<Ctx>) {
    this.customLabels = options.customLabels;
    const metrics = defineHttpMetrics(registry, {
      prefix: options.prefix,
      buckets: options.buckets,
      extraLabelNames: options.customLabels.map(([name]) => name),
      requestSizes: options.requestSizes,
      responseSizes: options.responseSizes,
      exemplars: options.exemplars !== undefined,
    });
    this.observers = observersOf(metrics, options.customLabels.length === 0, options.exemplars);
  }

  /**
   * The duration observer of a recorder whose requests need nothing else (no size histograms, custom labels
   * or exemplars), for the recorder's plain path; undefined otherwise.
   */
  get plainDuration(): HttpObserve | undefined {
    const plain = this.observers.plain;
    return plain !== undefined && plain.requestSize === undefined && plain.responseSize === undefined
      ? plain.duration
      : undefined;
  }

  /**
   * Count the request in `http_server_active_requests`. Every entry calls this last, after each step that
   * can throw (wrapping a body, claiming an exchange): an entry that fails half-way leaves no count behind.
   */
  enter(request: PendingRequest): void {
    const counter = this.counterOf(request.method);
    counter.n++;
    request.counter = counter;
  }

  /**
   * Where every request ends: out of flight, and observed in the duration histogram and, when enabled,
   * the size histograms. `ctx` is what custom label and exemplar functions are given. The sizes are read from the
   * request's body counters when it has them, else taken as given (timed by hand). Only the first call counts.
   */
  finish(
    request: PendingRequest,
    statusCode: number,
    route: string | undefined,
    ctx: Ctx,
    requestBytes: number | undefined,
    responseBytes: number | undefined,
  ): void {
    if (request.ended) return;
    request.ended = true;
    if (request.counter !== undefined) request.counter.n--;
    const seconds = (performance.now() - request.startedAt) / 1000;
    const { requestBody, responseBody } = request;
    const received = requestBody === undefined ? requestBytes : requestBody();
    const sent =
      responseBody === undefined ? responseBytes : hasBody(request.rawMethod, statusCode) ? responseBody() : 0;
    const method = request.method;
    const routeLabel = route ?? UNMATCHED_ROUTE;
    const plain = this.observers.plain;
    if (plain !== undefined) {
      plain.duration(method, routeLabel, statusCode, seconds);
      if (plain.requestSize && isSize(received)) plain.requestSize(method, routeLabel, statusCode, received);
      if (plain.responseSize && isSize(sent)) plain.responseSize(method, routeLabel, statusCode, sent);
      return;
    }
    const labelled = this.observers.labelled;
    if (labelled === undefined) return;
    const labels: Record<string, string> = { method, route: routeLabel, status_code: statusLabel(statusCode) };
    const custom = this.customLabels;
    // An indexed loop: for-of with destructuring allocated an iterator per request even for no labels.
    for (let i = 0; i < custom.length; i++) {
      const [name, source] = custom[i] as readonly [string, LabelSource<Ctx>];
      labels[name] = labelValue(source, ctx);
    }
    labelled.duration(labels, seconds, ctx);
    if (labelled.requestSize && isSize(received)) labelled.requestSize(labels, received);
    if (labelled.responseSize && isSize(sent)) labelled.responseSize(labels, sent);
  }

  /**
   * The in-flight counter of a method label (of `http_server_active_requests`). Requests come in runs of
   * one method: one Map look-up per run, not per request.
   */
  counterOf(method: string): { n: number } {
    if (method !== this.lastMethod) {
      this.lastMethod = method;
      this.lastCounter = inFlightCounter(this.observers.inFlight, method);
    }
    return this.lastCounter;
  }
}

/** Observe one request in a histogram, given its whole labels object (and its context, for exemplars). */
type LabelledObserve = (labels: Record<string, string>, value: number, ctx?: unknown) => void;

/** The observers of the request histograms (the size histograms are opt-in). */
interface Histograms<O> {
  duration: O;
  requestSize: O | undefined;
  responseSize: O | undefined;
}

/** What a request updates when it ends: by method, route and status, or by a labels object. */
interface Observers {
  inFlight: InFlightCounts;
  plain: Histograms<HttpObserve> | undefined;
  labelled: Histograms<LabelledObserve> | undefined;
}

/**
 * Which observer runs for each request histogram, decided once per recorder, here and nowhere else:
 *
 * - no custom labels and no exemplars (`plain`): a series is (method, route, status_code), observed
 *   without a labels object by {@link httpObserver}, through {@link batched} when the histogram is one of ours;
 * - custom labels: {@link fastObserver}, given the labels object;
 * - exemplars: the duration through {@link exemplarObserver} (prom-client's observe() with the request's
 *   exemplar labels, every time), the sizes as with custom labels. Without the option nothing of this
 *   runs: the choice is made here, once, not per request.
 *
 * Each falls back to prom-client's own observe() for what it cannot do (a new series, a value that is not
 * finite, exemplars, a prom-client whose internals differ), so the choice changes the speed, never a result.
 */
function observersOf<Ctx>(
  metrics: HttpMetrics,
  noCustomLabels: boolean,
  exemplars: ExemplarSource<Ctx> | undefined,
): Observers {
  const plain = noCustomLabels && exemplars === undefined;
  const labelled: Histograms<LabelledObserve> | undefined = plain ? undefined : histograms(metrics, fastObserver);
  if (labelled !== undefined && exemplars !== undefined)
    labelled.duration = exemplarObserver(metrics.duration, exemplars);
  return {
    inFlight: metrics.inFlight,
    plain: plain ? histograms(metrics, (h) => batched(h, httpObserver(h))) : undefined,
    labelled,
  };
}

function histograms<O>(metrics: HttpMetrics, observer: (h: Histogram<string>) => O): Histograms<O> {
  return {
    duration: observer(metrics.duration),
    requestSize: metrics.requestSize && observer(metrics.requestSize),
    responseSize: metrics.responseSize && observer(metrics.responseSize),
  };
}

function labelValue<Ctx>(source: LabelSource<Ctx>, ctx: Ctx): string {
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
