import { createHttpRecorder, type HttpRecorderOptions } from '@kci-metrics/core';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Registry } from 'prom-client';
import { type MountSite, mountSiteOf } from './mount-site.js';
import { prepareRoute, routeTemplate } from './route-template.js';

/**
 * Options of {@link expressMetrics}: the core recorder's options, with per-request custom labels computed
 * from the Express request once the response is over (so they can read `req.res.locals` and `req.params`).
 */
export type ExpressMetricsOptions = HttpRecorderOptions<Request>;

/** The middleware, carrying the registry it records into (attach it to the store or serve it). */
export interface ExpressMetricsMiddleware extends RequestHandler {
  readonly registry: Registry;
}

/**
 * Record `http_request_duration_seconds{method,route,status_code}` and `http_server_active_requests`
 * for every request. Install it first, with `app.use()` on the application, so it sees every request.
 *
 * - `route` is the matched route's template with the mount paths of its routers
 *   (`/api/users/:userId/posts/:postId`); requests no route handled get `<unmatched>`.
 * - `status_code` is what the client received: the status set by error middleware or Express's final
 *   handler, 499 when the client hung up first, 500 when the server broke a started response off.
 * - The duration ends when the last byte is sent, so streamed bodies are timed in full.
 *
 * Invalid options throw a `ConfigError` naming the option, here rather than on the first request.
 *
 * @example
 * const metrics = expressMetrics({ excludePaths: ['/health'] });
 * app.use(metrics);
 * openStore().attach(metrics.registry);
 */
export function expressMetrics(options: ExpressMetricsOptions = {}): ExpressMetricsMiddleware {
  const recorder = createHttpRecorder<Request>(options, { route: templateAt, path: pathOf });

  function expressMetrics(req: Request, res: Response, next: NextFunction): void {
    try {
      // Where the request started: Express changes req.app and req.baseUrl inside sub-applications.
      const site = mountSiteOf(req);
      prepareRoute(req, site.app, site.base);
      recorder.track(req, res, req, site);
    } catch {
      // metrics must never fail the request they describe
    }
    next();
  }
  // The name is set again because bundlers rename a function that shadows its factory (esbuild: expressMetrics2).
  return Object.defineProperties(expressMetrics, {
    name: { value: 'expressMetrics' },
    registry: { value: recorder.registry, enumerable: true },
  }) as ExpressMetricsMiddleware;
}

function templateAt(req: Request, site: unknown): string | undefined {
  const { app, base } = site as MountSite;
  return routeTemplate(req, app, base);
}

/** The full path without the query string, also when the middleware is mounted under a path. */
function pathOf(req: Request): string {
  const url = req.originalUrl || req.url || '/';
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}
