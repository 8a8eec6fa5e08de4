import { subscribe } from 'node:diagnostics_channel';
import type { Request } from 'express';

/**
 * Express 5's router (2.3+) publishes every handler invocation on this channel with the path pattern the
 * layer was registered with. `req.baseUrl` alone cannot give the template: for
 * `app.use('/users/:id', sub)` it is the concrete `/users/42`, which would put user ids into labels.
 */
const LAYER_START = 'tracing:express.router.request:start';

interface Layer {
  route?: unknown;
  handle?: { stack?: unknown };
}
interface LayerStart {
  req: Request;
  layer: Layer;
  route?: unknown;
}
/** The routers a request has entered, each with the template of its mount path. */
interface Trace {
  routers: [stack: readonly Layer[], template: string][];
  route?: string;
}

const traces = new WeakMap<object, Trace>();
let subscribed = false;

/** Start following `req` through the routers; call before `next()`. */
export function traceRoute(req: Request): void {
  if (!subscribed) {
    subscribe(LAYER_START, onLayerStart);
    subscribed = true;
  }
  if (traces.has(req)) return;
  let root: unknown;
  try {
    root = (req.app as { router?: { stack?: unknown } } | undefined)?.router?.stack;
  } catch {
    // Express 4's `app.router` getter throws; its router publishes nothing anyway
  }
  traces.set(req, { routers: Array.isArray(root) ? [[root, req.baseUrl ?? '']] : [] });
}

/**
 * The full template of the last route whose handler ran, mount paths included
 * (`/api/users/:userId/posts/:postId`); undefined when no route handled the request.
 */
export function routeTemplate(req: Request): string | undefined {
  const traced = traces.get(req)?.route;
  if (traced !== undefined) return traced;
  // Older routers publish nothing: use what Express documents (concrete for parameterised mount paths).
  const path = (req.route as { path?: unknown } | undefined)?.path;
  return path === undefined ? undefined : join(req.baseUrl ?? '', path);
}

function onLayerStart(message: unknown): void {
  const { req, layer, route } = message as LayerStart;
  const trace = traces.get(req);
  if (!trace) return;
  try {
    const current = req.route as { stack?: unknown[] } | undefined;
    if (current?.stack?.includes(layer)) {
      // A route handler: prefix the route's pattern with the template of the router that holds the route.
      trace.route = join(mountOf(trace, (l) => l.route === current) ?? req.baseUrl ?? '', route);
    } else if (Array.isArray(layer.handle?.stack)) {
      // A router being entered: remember its stack, so its own routes and routers find their prefix.
      trace.routers.push([layer.handle.stack, join(mountOf(trace, (l) => l === layer) ?? req.baseUrl ?? '', route)]);
    }
  } catch {
    // a failure here costs a label, never the request
  }
}

/** The template of the most recently entered router that holds a layer matching `is`. */
function mountOf(trace: Trace, is: (layer: Layer) => boolean): string | undefined {
  return trace.routers.findLast(([stack]) => stack.some(is))?.[1];
}

/** `/api` + `/tree/:id`; a router's own `/` route is labelled with the mount path alone, as in @koa/router. */
function join(base: string, pattern: unknown): string {
  const path = typeof pattern === 'string' ? pattern : String(pattern); // RegExp and array paths stay templates
  const prefix = base.endsWith('/') ? base.slice(0, -1) : base;
  return path === '/' ? prefix || '/' : prefix + path;
}
