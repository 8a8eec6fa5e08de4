import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks'; // not the global's accessor: see exchange.ts
import { collectDefaultMetrics, Registry, type RegistryContentType } from 'prom-client';
import {
  type Announcement,
  announcementOf,
  claimAnnounced,
  type ExchangeClaim,
  type ExchangeSink,
  watchExchanges,
} from './exchange.js';
import { normalizeMethod, UNMATCHED_ROUTE } from './labels.js';
import { type HttpRecorderOptions, isMetricsTarget, resolveOptions } from './options.js';
import { PendingRequest, RequestPipeline } from './pipeline.js';
import { countRequestBody, countResponseBody, whenClosed } from './response.js';

/** What an adapter knows when a response is over. */
export interface RequestOutcome<Ctx> {
  /** The matched route template (e.g. `/api/tree/:commitHash/full`); undefined when no route matched. */
  route: string | undefined;
  /** The status the client received; 499 when the client went away first. */
  statusCode: number;
  /** The framework's request context, passed to custom label functions. */
  ctx: Ctx;
  /** Body bytes received, when known. */
  requestBytes?: number;
  /** Body bytes actually sent, when known. */
  responseBytes?: number;
}

/** One request in flight. `end()` records it; calling it again does nothing. */
export interface RequestTimer<Ctx> {
  end(outcome: RequestOutcome<Ctx>): void;
}

/** What a framework adapter tells the recorder about its requests. */
export interface HttpAdapter<Ctx> {
  /**
   * The matched route template of a request that is over, or undefined when no route matched. `site` is
   * what the adapter passed to {@link HttpRecorder.track} (e.g. where its middleware is mounted).
   */
  route(ctx: Ctx, site: unknown): string | undefined;
  /** The request path without the query string; only asked when node:http did not announce the request. */
  path?(ctx: Ctx): string;
}

/** The framework-neutral recorder that the Koa and Express adapters wrap. */
export interface HttpRecorder<Ctx> {
  readonly registry: Registry;
  /** True when this path (without query string) is not to be recorded. */
  isExcluded(path: string): boolean;
  /** Call when a request arrives; counts it in `http_server_active_requests` until `end()`. */
  start(method: string | undefined): RequestTimer<Ctx>;
  /**
   * Record this request when its response is over, unless its path is excluded: the whole adapter in one
   * call, made from the middleware. Timed from when node:http parsed the request to the last byte sent.
   * Never throws.
   */
  track(req: IncomingMessage, res: ServerResponse, ctx: Ctx, site?: unknown): void;
}

const withDefaultMetrics = new WeakSet<Registry>();

/**
 * Create the recorder an adapter's middleware hands each request to.
 *
 * With an `adapter`, `track(req, res, ctx)` does everything: node:http announces each request on its
 * diagnostics channels, and the recorder reads method, URL and start time there, before any framework has
 * touched the request, and ends on the response's finish (or the connection's close) without a listener
 * per request. Without node:http's announcement (a request already under way when the recorder was made,
 * another server implementation) it falls back to a 'close' listener on the response, with the same result.
 *
 * @example
 * const recorder = createHttpRecorder({ excludePaths: ['/health'] }, { route: (req) => req.route?.path });
 * server.on('request', (req, res) => recorder.track(req, res, req));
 *
 * @example
 * // or by hand, for anything that is not node:http:
 * const timer = recorder.start(req.method);
 * res.on('close', () => timer.end({ route: '/api/tree/', statusCode: res.statusCode, ctx: req }));
 */
export function createHttpRecorder<Ctx = unknown>(
  options: HttpRecorderOptions<Ctx> = {},
  adapter: HttpAdapter<Ctx> = { route: () => undefined },
): HttpRecorder<Ctx> {
  const resolved = resolveOptions(options);
  const registry =
    (options.registry as Registry | undefined) ??
    (resolved.exemplars === undefined ? new Registry() : openMetricsRegistry());
  const pipeline = new RequestPipeline<Ctx>(registry, resolved); // the HTTP metrics first, then the defaults
  if (resolved.defaultMetrics && !withDefaultMetrics.has(registry)) {
    withDefaultMetrics.add(registry);
    collectDefaultMetrics({ register: registry, prefix: resolved.prefix });
    // prom-client names three gauges with a counter's `_total` suffix, which `promtool check metrics`
    // reports as problems; their per-type breakdowns (nodejs_active_handles{type}, ...) stay.
    for (const name of [
      'nodejs_active_handles_total',
      'nodejs_active_requests_total',
      'nodejs_active_resources_total',
    ]) {
      registry.removeSingleMetric(resolved.prefix + name);
    }
  }
  watchExchanges();
  const exclude = resolved.exclude;
  const { requestSizes, responseSizes } = resolved;
  const sink: ExchangeSink = { end: (claim, statusCode) => settle(claim as PendingRequest, statusCode) };

  // Without excludePaths only the metrics path is excluded: checked on the raw target, without slicing it.
  const excluded = (url: string) =>
    resolved.excludesOnlyMetrics && url.charCodeAt(0) === 0x2f ? isMetricsTarget(url) : exclude(pathOf(url));

  function track(req: IncomingMessage, res: ServerResponse, ctx: Ctx, site?: unknown): void {
    try {
      const announcement = announcementOf(req);
      if (announcement === undefined) trackByListener(req, res, ctx, site);
      else if (!excluded(announcement.url ?? '/')) trackAnnounced(req, res, announcement, ctx, site);
    } catch {
      // metrics must never fail the request they describe; nothing is counted before the last step
    }
  }

  // The plain path: what `track` does for a recorder with no size histograms, custom labels or exemplars
  // (the defaults), with one object literal per request as the exchange's claim, not through PendingRequest
  // and the pipeline's enter() and finish(). In the pinned Express bench, 4.6 µs less server CPU per
  // request than `track` in one interleaved run of 20 blocks (with the method's counter looked up inline,
  // not by counterOf), within the spread between runs (bench/README.md, "The plain path"). Requests
  // node:http did not announce take `track`'s listener path.
  const duration = pipeline.plainDuration;

  function trackPlain(req: IncomingMessage, res: ServerResponse, ctx: Ctx, site?: unknown): void {
    try {
      const at = announcementOf(req);
      if (at === undefined) {
        trackByListener(req, res, ctx, site);
        return;
      }
      if (excluded(at.url ?? '/')) return;
      const method = normalizeMethod(at.method);
      const counter = pipeline.counterOf(method);
      const claim: PlainRequest = {
        response: at.response,
        sink: plainSink,
        nextOnConnection: undefined,
        ctx,
        site,
        method,
        counter,
        startedAt: at.startedAt,
      };
      claimAnnounced(at, claim);
      counter.n++; // last, after the claim: a failed claim leaves no count behind
    } catch {
      // metrics must never fail the request they describe
    }
  }

  /** The exchange ends each claim once, so the count is taken back once. */
  const plainSink: ExchangeSink = {
    end(claim, statusCode) {
      const request = claim as PlainRequest;
      try {
        request.counter.n--;
        const route = routeOf(adapter, request.ctx as Ctx, request.site) ?? UNMATCHED_ROUTE;
        duration?.(request.method, route, statusCode, (performance.now() - request.startedAt) / 1000);
      } catch {
        // a failing metric must not become an exception in node:http's event handlers
      }
    },
  };

  /** node:http announced the request: it ends when node:http finishes the response or the connection closes. */
  function trackAnnounced(req: IncomingMessage, res: ServerResponse, at: Announcement, ctx: Ctx, site: unknown): void {
    const request = new PendingRequest(at.method, at.startedAt, ctx, site, at.response, sink);
    watchBodies(request, req, res);
    claimAnnounced(at, request);
    pipeline.enter(request);
  }

  /** Not announced (or claimed by another recorder): a 'close' listener on the response ends it. */
  function trackByListener(req: IncomingMessage, res: ServerResponse, ctx: Ctx, site: unknown): void {
    if (exclude(adapter.path ? adapter.path(ctx) : pathOf(req.url))) return;
    const request = new PendingRequest(req.method, performance.now(), ctx, site, undefined, undefined);
    watchBodies(request, req, res);
    whenClosed(res, (statusCode) => settle(request, statusCode));
    pipeline.enter(request);
  }

  /** A body that cannot be watched (its stream methods made read-only by someone) costs its size, not the request. */
  function watchBodies(request: PendingRequest, req: IncomingMessage, res: ServerResponse): void {
    if (requestSizes) request.requestBody = attempt(countRequestBody, req);
    if (responseSizes) request.responseBody = attempt(countResponseBody, res);
  }

  /** The end of a tracked request: its route from the adapter, the rest from the pipeline. */
  function settle(request: PendingRequest, statusCode: number): void {
    try {
      const ctx = request.ctx as Ctx;
      pipeline.finish(request, statusCode, routeOf(adapter, ctx, request.site), ctx, undefined, undefined);
    } catch {
      // a failing metric must not become an exception in node:http's or the app's event handlers
    }
  }

  return {
    registry,
    isExcluded: exclude,
    start(rawMethod) {
      const request = new PendingRequest(rawMethod, performance.now(), undefined, undefined, undefined, undefined);
      pipeline.enter(request);
      return {
        end: ({ statusCode, route, ctx, requestBytes, responseBytes }) =>
          pipeline.finish(request, statusCode, route, ctx, requestBytes, responseBytes),
      };
    },
    track: duration === undefined ? track : trackPlain,
  };
}

/** A request on the recorder's plain path: the exchange's claim and all that its end needs. */
interface PlainRequest extends ExchangeClaim {
  readonly ctx: unknown;
  readonly site: unknown;
  /** The method label. */
  readonly method: string;
  readonly counter: { n: number };
  /** `performance.now()` when node:http announced it. */
  readonly startedAt: number;
}

/**
 * A fresh registry of the OpenMetrics content type: prom-client defines a metric with exemplars only on
 * such a registry (its typings omit the constructor's content type argument, hence setContentType).
 */
function openMetricsRegistry(): Registry {
  const registry = new Registry() as Registry<RegistryContentType>;
  registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  return registry as unknown as Registry;
}

function attempt<T>(count: (target: T) => () => number, target: T): (() => number) | undefined {
  try {
    return count(target);
  } catch {
    return undefined;
  }
}

/** A failing route lookup costs the label, never the count: the request is recorded as unmatched. */
function routeOf<Ctx>(adapter: HttpAdapter<Ctx>, ctx: Ctx, site: unknown): string | undefined {
  try {
    return adapter.route(ctx, site);
  } catch {
    return undefined;
  }
}

/** The path of a request target without the query string; absolute-form targets (proxies) give their path. */
function pathOf(url: string | undefined): string {
  if (url === undefined || url === '') return '/';
  const query = url.indexOf('?');
  const target = query === -1 ? url : url.slice(0, query);
  if (target.startsWith('/')) return target;
  try {
    return new URL(target).pathname;
  } catch {
    return target; // `*` (OPTIONS) or garbage: matched as it is
  }
}
