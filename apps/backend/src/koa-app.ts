import Router, { type RouterMiddleware } from '@koa/router';
import Koa from 'koa';
import { errorResponse, firstValues, NOT_FOUND, normalizeParams, readJsonBody, respond } from './respond.js';
import { ROUTES, type Route } from './routes.js';

export interface KoaAppOptions {
  /** Multiplier of the per-route synthetic latency; 0 disables it. Default 1. */
  latencyScale?: number;
  /** Installed first, so that it sees every request and the final status (the metrics middleware). */
  metrics?: Koa.Middleware;
}

/**
 * The KernelCI Dashboard API mirror on Koa + @koa/router.
 *
 * @example
 * const app = createKoaApp({ metrics: koaMetrics({ registry }) });
 * http.createServer(app.callback()).listen(8000);
 */
export function createKoaApp(options: KoaAppOptions = {}): Koa {
  const latencyScale = options.latencyScale ?? 1;
  const app = new Koa();
  if (options.metrics) app.use(options.metrics);
  app.use(async function errors(ctx, next) {
    try {
      await next();
    } catch (error) {
      const { status, body } = errorResponse(error);
      ctx.status = status;
      ctx.body = body;
    }
  });
  // strict: the template's trailing slash is significant, as in Django and in the Express app.
  const router = new Router({ strict: true });
  for (const route of ROUTES) {
    const handler = routeHandler(route, latencyScale);
    if (route.method === 'GET') router.get(route.path, handler);
    else router.post(route.path, handler);
  }
  app.use(router.routes());
  app.use(function notFound(ctx) {
    ctx.status = NOT_FOUND.status;
    ctx.body = NOT_FOUND.body;
  });
  return app;
}

function routeHandler(route: Route, latencyScale: number): RouterMiddleware {
  return async function kernelciRoute(ctx) {
    const input = {
      params: normalizeParams(ctx.params),
      query: firstValues(new URLSearchParams(ctx.querystring)),
      body: route.method === 'POST' ? await readJsonBody(ctx.req) : undefined,
    };
    const { status, body } = await respond(route, input, latencyScale);
    ctx.status = status;
    ctx.body = body;
  };
}
