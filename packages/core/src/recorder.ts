import type { IncomingMessage, ServerResponse } from 'node:http';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { claimExchange, type Exchange, type ExchangeSink, unclaimedExchange, watchExchanges } from './exchange.js';
import { defineHttpMetrics, inFlightCounter } from './http-metrics.js';
import { normalizeMethod } from './labels.js';
import { type HttpRecorderOptions, isMetricsTarget, resolveOptions } from './options.js';
import { observersOf, record, startTimer } from './record.js';
import { countRequestBody, countResponseBody, hasBody, onResponseDone } from './response.js';

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
  const registry = options.registry ?? new Registry();
  const metrics = defineHttpMetrics(registry, {
    prefix: resolved.prefix,
    buckets: resolved.buckets,
    extraLabelNames: resolved.customLabels.map(([name]) => name),
    requestSizes: resolved.requestSizes,
    responseSizes: resolved.responseSizes,
  });
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
  const observers = observersOf(metrics, resolved.customLabels.length === 0);
  watchExchanges();
  const exclude = resolved.exclude;
  const sizes = { requestSizes: resolved.requestSizes, responseSizes: resolved.responseSizes };
  const sink: ExchangeSink = {
    end(exchange, statusCode) {
      if (exchange.inFlight) exchange.inFlight.n--;
      const ctx = exchange.ctx as Ctx;
      const responseBytes = exchange.responseBytes;
      const seconds = (performance.now() - exchange.startedAt) / 1000;
      const route = routeOf(adapter, ctx, exchange.site);
      const sent = responseBytes && (hasBody(exchange.rawMethod, statusCode) ? responseBytes() : 0);
      record(observers, resolved, exchange.method, statusCode, ctx, route, seconds, exchange.requestBytes?.(), sent);
    },
  };

  // Without excludePaths only the metrics path is excluded: checked on the raw target, without slicing it.
  const excluded = (url: string) =>
    resolved.excludesOnlyMetrics && url.charCodeAt(0) === 0x2f ? isMetricsTarget(url) : exclude(pathOf(url));

  function track(req: IncomingMessage, res: ServerResponse, ctx: Ctx, site?: unknown): void {
    try {
      const exchange = unclaimedExchange(req);
      if (exchange === undefined) trackByListener(req, res, ctx, site);
      else if (!excluded(exchange.url ?? '/')) claim(req, res, exchange, ctx, site);
    } catch {
      // metrics must never fail the request they describe
    }
  }

  function claim(req: IncomingMessage, res: ServerResponse, exchange: Exchange, ctx: Ctx, site: unknown): void {
    exchange.method = normalizeMethod(exchange.rawMethod);
    exchange.ctx = ctx;
    exchange.site = site;
    exchange.inFlight = inFlightOf(exchange.method);
    exchange.inFlight.n++;
    if (sizes.requestSizes) exchange.requestBytes = countRequestBody(req);
    if (sizes.responseSizes) exchange.responseBytes = countResponseBody(res);
    claimExchange(exchange, sink);
  }

  let lastMethod = '';
  let lastCounter = { n: 0 };

  /** Requests come in runs of one method: one Map look-up per run, not per request. */
  function inFlightOf(method: string): { n: number } {
    if (method !== lastMethod) {
      lastMethod = method;
      lastCounter = inFlightCounter(observers.inFlight, method);
    }
    return lastCounter;
  }

  function trackByListener(req: IncomingMessage, res: ServerResponse, ctx: Ctx, site: unknown): void {
    if (exclude(adapter.path ? adapter.path(ctx) : pathOf(req.url))) return;
    const timer = startTimer(observers, resolved, normalizeMethod(req.method));
    // Listed field by field: an object spread here doubled the cost of recording a request.
    onResponseDone(req, res, sizes, ({ statusCode, requestBytes, responseBytes }) =>
      timer.end({ route: routeOf(adapter, ctx, site), statusCode, requestBytes, responseBytes, ctx }),
    );
  }

  return {
    registry,
    isExcluded: exclude,
    start: (rawMethod) => startTimer(observers, resolved, normalizeMethod(rawMethod)),
    track,
  };
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
