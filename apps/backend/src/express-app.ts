import express, { type Express, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { errorResponse, firstValues, NOT_FOUND, normalizeParams, readJsonBody, respond } from './respond.js';
import { ROUTES, type Route } from './routes.js';

export interface ExpressAppOptions {
  /** Multiplier of the per-route synthetic latency; 0 disables it. Default 1. */
  latencyScale?: number;
  /** Installed first, so that it sees every request and the final status (the metrics middleware). */
  metrics?: RequestHandler;
}

/**
 * The KernelCI Dashboard API mirror on Express 5: the same route table, answers and route templates as
 * the Koa app.
 *
 * @example
 * const app = createExpressApp({ metrics: expressMetrics({ registry }) });
 * http.createServer(app).listen(8000);
 */
export function createExpressApp(options: ExpressAppOptions = {}): Express {
  const latencyScale = options.latencyScale ?? 1;
  const app = express();
  app.set('strict routing', true); // as @koa/router's strict mode: the trailing slash is significant
  app.set('etag', false); // Koa sends no ETag either; both frameworks answer byte for byte the same
  app.disable('x-powered-by');
  if (options.metrics) app.use(options.metrics);
  for (const route of ROUTES) {
    const handler = routeHandler(route, latencyScale);
    if (route.method === 'GET') app.get(route.path, handler);
    else app.post(route.path, handler);
  }
  app.use(function notFound(_req: Request, res: Response) {
    res.status(NOT_FOUND.status).json(NOT_FOUND.body);
  });
  app.use(function errors(error: unknown, _req: Request, res: Response, next: NextFunction) {
    if (res.headersSent) return next(error);
    const { status, body } = errorResponse(error);
    res.status(status).json(body);
  });
  return app;
}

function routeHandler(route: Route, latencyScale: number): RequestHandler {
  // Express 5 forwards a rejected promise to the error handler, as Koa's errors middleware catches it.
  return async function kernelciRoute(req, res) {
    const url = req.originalUrl;
    const q = url.indexOf('?');
    const input = {
      params: normalizeParams(req.params),
      query: firstValues(new URLSearchParams(q >= 0 ? url.slice(q + 1) : '')),
      body: route.method === 'POST' ? await readJsonBody(req) : undefined,
    };
    const { status, body } = await respond(route, input, latencyScale);
    res.status(status).json(body);
  };
}
