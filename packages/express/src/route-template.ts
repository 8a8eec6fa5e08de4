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

/** What a walk of one app's router tree found: each route's full template. */
interface Walked {
  /** Route object → its template below the app; null when several mount paths lead to it. */
  templates: Map<object, string | null>;
  /** Routes the walk did not find (inside sub-applications): not walked for again. */
  missed: WeakSet<object>;
  /** Requests ended since the last walk: the tree is walked again every REWALK_EVERY. */
  ends: number;
}
const walks = new WeakMap<object, Walked>();
/** Routers added or mounted after the first request are found by walking again now and then. */
const REWALK_EVERY = 1024;

/**
 * Call at the start of a request, before `next()`. The first request of an app walks its router tree
 * once and learns every route's full template, mount paths included, so requests need no tracing: the
 * template is looked up by `req.route` when the response is over. Only when a route can be reached
 * through several mount paths (one router mounted twice, or under an array of paths) does the adapter
 * follow each request through the routers (the router's tracing channel), which costs Express more per
 * layer.
 *
 * @param app the application whose middleware sees the request (`req.app` now)
 * @param base `req.baseUrl` now: where that application is mounted ('' for the main one)
 */
export function prepareRoute(req: Request, app: object | undefined, base: string): void {
  if (app !== undefined && walkedOf(app) === undefined) walk(app);
  if (subscribed && !traces.has(req)) {
    const root = routerStack(app);
    traces.set(req, { routers: root ? [[root, base]] : [] });
  }
}

/** The layers of an app's main router; undefined when it has none we can read. */
function routerStack(app: object | undefined): readonly Layer[] | undefined {
  try {
    const stack = (app as { router?: { stack?: unknown } } | undefined)?.router?.stack;
    return Array.isArray(stack) ? stack : undefined;
  } catch {
    return undefined; // Express 4's `app.router` getter throws; its router publishes nothing anyway
  }
}

/**
 * The full template of the route that handled the request, mount paths included
 * (`/api/users/:userId/posts/:postId`); undefined when no route handled it.
 *
 * @param app the application whose middleware saw the request start (`req.app` then)
 * @param base `req.baseUrl` then: where that application is mounted ('' for the main one)
 */
export function routeTemplate(req: Request, app: object | undefined, base: string): string | undefined {
  // Reflect.get: a plain `req.route` is an inline-cache miss on every request (see core's exchange.ts).
  const route = Reflect.get(req, 'route') as { path?: unknown } | undefined;
  if (route === undefined || route === null) return undefined;
  const walked = app === undefined ? undefined : walkedOf(app);
  if (walked && app !== undefined) {
    let template = walked.templates.get(route);
    if (template === undefined && !walked.missed.has(route)) {
      // A route added since the last walk, or one in a sub-application (which no walk can see into).
      const again = walk(app);
      template = again.templates.get(route);
      if (template === undefined) again.missed.add(route);
    } else if (++walked.ends >= REWALK_EVERY) {
      walk(app);
    }
    if (typeof template === 'string') return join(base, template);
  }
  const traced = traces.get(req)?.route;
  if (traced !== undefined) return traced;
  // Untraced: what Express documents (concrete for parameterised mount paths).
  return route.path === undefined ? undefined : join(req.baseUrl ?? '', route.path);
}

/** The last application looked up, and its walk: nearly every request asks for the same one. */
let lastApp: object | undefined;
let lastWalked: Walked | undefined;

function walkedOf(app: object): Walked | undefined {
  if (app !== lastApp) {
    lastApp = app;
    lastWalked = walks.get(app);
  }
  return lastWalked;
}

/** Learn every route's template below `app`; follow requests by tracing if a route has several. */
function walk(app: object): Walked {
  const walked: Walked = { templates: new Map(), missed: walks.get(app)?.missed ?? new WeakSet(), ends: 0 };
  walks.set(app, walked);
  if (app === lastApp) lastWalked = walked;
  const root = routerStack(app);
  try {
    if (root) visit(root, '', walked.templates, new Set());
  } catch {
    walked.templates.clear(); // an unexpected router shape costs exact templates, never the request
  }
  for (const template of walked.templates.values()) {
    if (template === null) {
      startTracing();
      break;
    }
  }
  return walked;
}

function visit(stack: readonly unknown[], prefix: string, found: Map<object, string | null>, inside: Set<unknown>): void {
  if (inside.has(stack)) return; // a router mounted inside itself
  inside.add(stack);
  for (const item of stack) {
    const layer = item as Layer & { rawPath?: unknown; route?: { path?: unknown } };
    if (layer.route && typeof layer.route === 'object') {
      const template = join(prefix, layer.route.path);
      const seen = found.get(layer.route);
      found.set(layer.route, seen === undefined || seen === template ? template : null);
      continue;
    }
    const sub = layer.handle?.stack;
    if (!Array.isArray(sub)) continue;
    // router 2.3+ keeps the path a layer was mounted with; older ones do not (their routes stay unknown)
    const paths = Array.isArray(layer.rawPath) ? layer.rawPath : layer.rawPath === undefined ? [] : [layer.rawPath];
    for (const path of paths) visit(sub, join(prefix, path), found, inside);
  }
  inside.delete(stack);
}

function startTracing(): void {
  if (subscribed) return;
  subscribe(LAYER_START, onLayerStart);
  subscribed = true;
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
