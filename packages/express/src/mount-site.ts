import type { Request } from 'express';

/** Where a middleware saw a request start: the application it runs in, and where that application is mounted. */
export interface MountSite {
  readonly app: object | undefined;
  /** '' for the main application; the concrete `req.baseUrl` inside a mounted sub-application. */
  readonly base: string;
}

const sites = new WeakMap<object, Map<string, MountSite>>();
const noApp = new Map<string, MountSite>();
let last: MountSite = { app: undefined, base: '' };

/**
 * The mount site of a request, one object per application and mount path (made once, not per request).
 *
 * Read as cheaply as Express allows. Express re-prototypes each request, which gives each its own hidden
 * class, so every property read from `req` costs V8 an inline-cache miss. The application is read from
 * the prototype instead (Express's `app.request`, whose own `app` it is), and the main application (no
 * `parent`) is mounted at '' whatever `req.baseUrl` says: that is the mount path of the middleware, not
 * of the application (`app.use('/api', metrics)` labelled `/api/api/...` when it was read from there).
 */
export function mountSiteOf(req: Request): MountSite {
  const app = appOf(req);
  const main = app !== undefined && (app as { parent?: unknown }).parent === undefined;
  const base = main ? '' : ((Reflect.get(req, 'baseUrl') as string | undefined) ?? ''); // see core's exchange.ts
  if (last.app === app && last.base === base) return last; // nearly always: one application
  last = siteOf(app, base);
  return last;
}

function appOf(req: Request): object | undefined {
  const proto = Object.getPrototypeOf(req) as { app?: unknown } | null;
  const app = proto?.app ?? req.app; // own `req.app`: not Express's doing, but read it then
  return typeof app === 'function' || (typeof app === 'object' && app !== null) ? app : undefined;
}

function siteOf(app: object | undefined, base: string): MountSite {
  let byBase = app === undefined ? noApp : sites.get(app);
  if (byBase === undefined) {
    byBase = new Map();
    sites.set(app as object, byBase);
  }
  let site = byBase.get(base);
  if (site === undefined) {
    site = { app, base };
    byBase.set(base, site);
  }
  return site;
}
