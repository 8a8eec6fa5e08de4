import type { Request } from 'express';

/** Where a middleware saw a request start: the application it runs in, and where that application is mounted. */
export interface MountSite {
  readonly app: object | undefined;
  /** '' for the main application; the template of its mount path for a mounted sub-application. */
  readonly base: string;
}

const sites = new WeakMap<object, MountSite>();
const noApp: MountSite = { app: undefined, base: '' };
let last: MountSite = noApp;

/**
 * The mount site of a request, one object per application (made once, not per request).
 *
 * Read as cheaply as Express allows. Express re-prototypes each request, which gives each its own hidden
 * class, so every property read from `req` costs V8 an inline-cache miss. The application is read from
 * the prototype instead (Express's `app.request`, whose own `app` it is), and its mount path from the
 * application: `req.baseUrl` is the concrete path (`/t/acme` for `app.use('/t/:tenant', sub)`), and for
 * the main application it is the mount path of the middleware (`app.use('/api', metrics)`), not of the app.
 */
export function mountSiteOf(req: Request): MountSite {
  const app = appOf(req);
  if (last.app === app) return last; // nearly always: one application
  last = app === undefined ? noApp : siteOf(app);
  return last;
}

/** The application a request is in now: Express's `app.request` prototype knows it (4 and 5). */
export function appOf(req: Request): object | undefined {
  const proto = Object.getPrototypeOf(req) as { app?: unknown } | null;
  const app = proto?.app ?? req.app; // own `req.app`: not Express's doing, but read it then
  return typeof app === 'function' || (typeof app === 'object' && app !== null) ? app : undefined;
}

/** The template an application is mounted at ('' for the main one), worked out once per application. */
export function baseOf(app: object): string {
  return siteOf(app).base;
}

function siteOf(app: object): MountSite {
  let site = sites.get(app);
  if (site === undefined) {
    site = { app, base: mountTemplateOf(app) };
    sites.set(app, site);
  }
  return site;
}

/**
 * The template an application is mounted at, from Express's documented `app.mountpath` and `app.parent`
 * (`/t/:tenant/admin`); '' for the main application. An array of mount paths is written as Express writes
 * it (`/a,/b`): a sub-application keeps no record of which one a request came through.
 */
function mountTemplateOf(app: object): string {
  let template = '';
  const seen = new Set<object>();
  for (let at: object | undefined = app; at !== undefined && !seen.has(at); ) {
    seen.add(at);
    const { parent, mountpath } = at as { parent?: unknown; mountpath?: unknown };
    if (typeof parent !== 'function' && (typeof parent !== 'object' || parent === null)) break;
    const path = typeof mountpath === 'string' ? mountpath : String(mountpath);
    template = (path === '/' ? '' : path.endsWith('/') ? path.slice(0, -1) : path) + template;
    at = parent;
  }
  return template;
}
