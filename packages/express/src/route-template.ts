import { subscribe } from 'node:diagnostics_channel';
import type { Request } from 'express';
import { appOf, baseOf } from './mount-site.js';
import {
  type Layer,
  MOUNT_ONCE,
  mountPatternsOf,
  reportUnreadable,
  routerStackOf,
  subStackOf,
  UNKNOWN_MOUNT,
  UNWRAP,
  UPGRADE,
} from './router-internals.js';

/**
 * Express 5's router (2.3+) publishes every handler invocation on this channel with the path pattern the
 * layer was registered with. `req.baseUrl` alone cannot give the template: for
 * `app.use('/users/:id', sub)` it is the concrete `/users/42`, which would put user ids into labels.
 */
const LAYER_START = 'tracing:express.router.request:start';

/** The label part for a mount path that could not be read (see router-internals.ts). */
const UNKNOWN = `/${UNKNOWN_MOUNT}`;

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

/** One way to reach a route in Express 4: its full template, and the RegExps of the mounts and the route. */
interface Candidate {
  template: string;
  matchers: readonly RegExp[];
}

/** What a walk of one app's router tree found: each route's full template. */
interface Walked {
  /** Route object → its template below the app; null when several mount paths lead to it. */
  templates: Map<object, string | null>;
  /** Express 4: for a route with several templates, how to tell which one a request took. */
  candidates: Map<object, Candidate[]>;
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
 * follow each request through the routers (router 2.3's tracing channel, which costs Express more per
 * layer) or, in Express 4, match the request's path against those mount paths when it is over.
 *
 * @param app the application whose middleware sees the request (`req.app` now)
 * @param base the template of that application's mount path ('' for the main one)
 */
export function prepareRoute(req: Request, app: object | undefined, base: string): void {
  if (app !== undefined && walkedOf(app) === undefined) walk(app);
  if (subscribed && !traces.has(req)) {
    const root = routerStackOf(app);
    traces.set(req, { routers: root ? [[root, base]] : [] });
  }
}

/**
 * The full template of the route that handled the request, mount paths included
 * (`/api/users/:userId/posts/:postId`); undefined when no route handled it. Never `req.baseUrl`: where a
 * mount path cannot be read, `/<unknown>` stands in for it, so a label never holds a concrete path.
 *
 * @param app the application whose middleware saw the request start (`req.app` then)
 * @param base the template of that application's mount path ('' for the main one)
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
    if (template === null) return oneOf(req, app, walked, route, base);
  }
  return inSubApplication(req, app, route) ?? unknown(app, route);
}

/** A route no walk found: in a router behind a plain function, or with no app to walk. */
function unknown(app: object | undefined, route: { path?: unknown }): string {
  if (app !== undefined) reportUnreadable(app, 'a route was reached through a router the walk cannot see', UNWRAP);
  return join(UNKNOWN, route.path);
}

/** A route reachable through several mount paths: the one this request took. */
function oneOf(req: Request, app: object, walked: Walked, route: object, base: string): string {
  const traced = traces.get(req)?.route;
  if (traced !== undefined) return traced;
  const candidates = walked.candidates.get(route);
  if (candidates !== undefined) {
    const url = req.originalUrl ?? '/';
    const query = url.indexOf('?');
    const path = query === -1 ? url : url.slice(0, query);
    for (const candidate of candidates) if (takes(candidate.matchers, path)) return join(base, candidate.template);
    // e.g. inside a sub-application, whose own mount the path still starts with
    reportUnreadable(app, 'the mount path a request took to a router mounted at several could not be told', MOUNT_ONCE);
  }
  // Router 2.3: a request that started before the tracing subscription (the first few after the walk found it).
  return join(join(base, UNKNOWN), (route as { path?: unknown }).path);
}

/** Express 4's matching, replayed: each mount strips what it matched, then the route matches the rest. */
function takes(matchers: readonly RegExp[], path: string): boolean {
  let rest = path;
  for (let i = 0; i < matchers.length - 1; i++) {
    const match = (matchers[i] as RegExp).exec(rest);
    if (match === null) return false;
    rest = rest.slice(match[0].length);
    if (rest[0] !== '/') rest = `/${rest}`;
  }
  return (matchers[matchers.length - 1] as RegExp).test(rest);
}

/**
 * A route of a mounted sub-application (`app.use('/admin', adminApp)`), which the parent's walk cannot
 * see into: Express leaves the request on the sub-application that answered it, whose own walk knows the
 * route, and whose documented `mountpath` gives the rest of the template.
 */
function inSubApplication(req: Request, app: object | undefined, route: object): string | undefined {
  const current = appOf(req);
  if (current === undefined || current === app) return undefined;
  const walked = walkedOf(current) ?? walk(current);
  let template = walked.templates.get(route);
  if (template === undefined && !walked.missed.has(route)) {
    const again = walk(current);
    template = again.templates.get(route);
    if (template === undefined) again.missed.add(route);
  }
  const base = baseOf(current);
  if (typeof template === 'string') return join(base, template);
  if (template === null) return oneOf(req, current, walked, route, base);
  return undefined;
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
  const walked: Walked = {
    templates: new Map(),
    candidates: new Map(),
    missed: walks.get(app)?.missed ?? new WeakSet(),
    ends: 0,
  };
  walks.set(app, walked);
  if (app === lastApp) lastWalked = walked;
  const root = routerStackOf(app);
  try {
    if (root) visit(app, root, '', [], walked, new Set());
    else reportUnreadable(app, "the application's router could not be read", UPGRADE);
  } catch {
    walked.templates.clear(); // an unexpected router shape costs exact templates, never the request
    walked.candidates.clear();
    reportUnreadable(app, "the application's router has an unexpected shape", UPGRADE);
  }
  for (const [route, template] of walked.templates) {
    if (template === null && !walked.candidates.has(route)) {
      startTracing();
      break;
    }
  }
  for (const [route, template] of walked.templates) if (template !== null) walked.candidates.delete(route);
  return walked;
}

/**
 * @param matchers Express 4: the RegExps of the mounts above, to tell several mounts apart; undefined when
 * a mount above has none (router 2.3 tells them apart on its tracing channel instead)
 */
function visit(
  app: object,
  stack: readonly Layer[],
  prefix: string,
  matchers: readonly RegExp[] | undefined,
  walked: Walked,
  inside: Set<unknown>,
): void {
  if (inside.has(stack)) return; // a router mounted inside itself
  inside.add(stack);
  for (const layer of stack) {
    if (layer.route && typeof layer.route === 'object') {
      const route = layer.route;
      const template = join(prefix, route.path);
      const seen = walked.templates.get(route);
      walked.templates.set(route, seen === undefined || seen === template ? template : null);
      if (matchers !== undefined && layer.regexp instanceof RegExp) {
        const candidates = walked.candidates.get(route) ?? [];
        candidates.push({ template, matchers: [...matchers, layer.regexp] });
        walked.candidates.set(route, candidates);
      }
      continue;
    }
    const sub = subStackOf(layer);
    if (sub === undefined) continue;
    const patterns = mountPatternsOf(layer);
    if (patterns === undefined) {
      reportUnreadable(app, 'the paths its routers are mounted at could not be read', UPGRADE);
      visit(app, sub, prefix.endsWith(UNKNOWN) ? prefix : join(prefix, UNKNOWN), undefined, walked, inside);
      continue;
    }
    for (const { template, matcher } of patterns) {
      const below = matchers !== undefined && matcher !== undefined ? [...matchers, matcher] : undefined;
      visit(app, sub, join(prefix, template), below, walked, inside);
    }
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
      const is = (l: Layer) => l.route === current;
      trace.route = join(mountOf(trace, is) ?? rootOf(req, is) ?? UNKNOWN, route);
    } else {
      const sub = subStackOf(layer);
      // A router being entered: remember its stack, so its own routes and routers find their prefix.
      const is = (l: Layer) => l === layer;
      if (sub !== undefined) trace.routers.push([sub, join(mountOf(trace, is) ?? rootOf(req, is) ?? UNKNOWN, route)]);
    }
  } catch {
    // a failure here costs a label, never the request
  }
}

/** The template of the most recently entered router that holds a layer matching `is`. */
function mountOf(trace: Trace, is: (layer: Layer) => boolean): string | undefined {
  return trace.routers.findLast(([stack]) => stack.some(is))?.[1];
}

/** The mount template of the sub-application the request is in, when a layer matching `is` is on its main router. */
function rootOf(req: Request, is: (layer: Layer) => boolean): string | undefined {
  const app = appOf(req);
  return app !== undefined && routerStackOf(app)?.some(is) ? baseOf(app) : undefined;
}

/** `/api` + `/tree/:id`; a router's own `/` route is labelled with the mount path alone, as in @koa/router. */
function join(base: string, pattern: unknown): string {
  const path = typeof pattern === 'string' ? pattern : String(pattern); // RegExp and array paths stay templates
  const prefix = base.endsWith('/') ? base.slice(0, -1) : base;
  return path === '/' ? prefix || '/' : prefix + path;
}
