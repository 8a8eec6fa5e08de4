import { createHttpRecorder, type HttpRecorderOptions } from '@kci-metrics/core';
import type { Context, Middleware, Next } from 'koa';
import type { Registry } from 'prom-client';

/**
 * Options of {@link koaMetrics}: the core recorder's options, with per-request custom labels computed
 * from the Koa context once the response is over (so they can read `ctx.state` and `ctx.status`).
 */
export type KoaMetricsOptions = HttpRecorderOptions<Context>;

/** The middleware, carrying the registry it records into (attach it to the store or serve it). */
export interface KoaMetricsMiddleware extends Middleware {
  readonly registry: Registry;
}

/** What @koa/router (v7 to v15) leaves on the context for the route that handled the request. */
interface RoutedContext {
  _matchedRoute?: unknown;
  routerPath?: unknown;
}

/**
 * Record `http_request_duration_seconds{method,route,status_code}` and `http_server_active_requests`
 * for every request. Install it first, before the routers, so it sees every request and every error.
 *
 * - `route` is @koa/router's matched template, prefixes and nested routers included
 *   (`/api/tree/:commitHash/full`); requests no route matched get `<unmatched>`.
 * - `status_code` is what the client received: the status of Koa's error response for a thrown error,
 *   499 when the client hung up first, 500 when the server broke a started response off.
 * - The duration ends when the last byte is sent, so streamed bodies are timed in full.
 *
 * Invalid options throw a `ConfigError` naming the option, here rather than on the first request.
 *
 * @example
 * const metrics = koaMetrics({ excludePaths: ['/health'] });
 * app.use(metrics);
 * openStore().attach(metrics.registry);
 */
export function koaMetrics(options: KoaMetricsOptions = {}): KoaMetricsMiddleware {
  const recorder = createHttpRecorder<Context>(options, { route: matchedRoute, path: (ctx) => ctx.path });

  // Not async: nothing runs after next() (the request is recorded when its response is over), so the
  // downstream promise is returned as is, without an extra async frame per request.
  function koaMetrics(ctx: Context, next: Next): Promise<void> {
    recorder.track(ctx.req, ctx.res, ctx); // never throws: metrics must never fail the request they describe
    return next();
  }
  // The name is set again because bundlers rename a function that shadows its factory (esbuild: koaMetrics2).
  return Object.defineProperties(koaMetrics, {
    name: { value: 'koaMetrics' },
    registry: { value: recorder.registry, enumerable: true },
  }) as KoaMetricsMiddleware;
}

function matchedRoute(ctx: Context): string | undefined {
  const { _matchedRoute: matched, routerPath } = ctx as Context & RoutedContext;
  const route = matched ?? routerPath;
  if (typeof route === 'string') return route;
  return route instanceof RegExp ? String(route) : undefined; // a RegExp route's source is still a template
}
