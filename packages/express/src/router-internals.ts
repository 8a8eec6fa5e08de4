import { createRequire } from 'node:module';

/**
 * Every read of Express's private router state, in one place (issue 14). Express documents `req.route`,
 * `req.baseUrl` and `app.mountpath`, but not where a router keeps the paths its routers were mounted
 * with, and those paths are what a route template needs:
 *
 * - Express 5 with router 2.3+: `layer.rawPath`, the path (or array of paths) as written.
 * - Express 4 (its own router in express/lib/router): only the RegExp that path-to-regexp 0.1 made of the
 *   path, with the parameter names in `layer.keys`; the path is read back from that RegExp's source.
 * - Anything else (Express 5 with router 2.0-2.2, a future router): not known. The caller then labels
 *   with {@link UNKNOWN_MOUNT} in place of the mount path, and {@link reportUnreadable} says so once.
 */

/** Stands in for a mount path that could not be read: bounded, and visibly not a real path. */
export const UNKNOWN_MOUNT = '<unknown>';

export interface Layer {
  route?: { path?: unknown };
  handle?: { stack?: unknown };
  rawPath?: unknown;
  regexp?: unknown;
  keys?: unknown;
}

/** A path a router was mounted at: its template, and for Express 4 the RegExp that matches it. */
export interface MountPattern {
  template: string;
  /** Express 4 only: matches this one path (also for array mounts), used to tell apart several mounts. */
  matcher?: RegExp;
}

/** The layers of an app's main router; undefined when it has none (yet) or none we can read. */
export function routerStackOf(app: object | undefined): readonly Layer[] | undefined {
  if (app === undefined) return undefined;
  try {
    // Express 4 keeps its router in `_router` (created by the first app.use/app.get); its `app.router` throws.
    const own = (app as { _router?: { stack?: unknown } })._router;
    const router = own ?? (app as { router?: { stack?: unknown } }).router;
    const stack = router?.stack;
    return Array.isArray(stack) ? stack : undefined;
  } catch {
    return undefined;
  }
}

/** The stack of a mounted router, or undefined when the layer is no router (middleware, a sub-application). */
export function subStackOf(layer: Layer): readonly Layer[] | undefined {
  const stack = layer.handle?.stack;
  return Array.isArray(stack) ? stack : undefined;
}

/** The paths a router layer was mounted at; undefined when this router version keeps none we can read. */
export function mountPatternsOf(layer: Layer): MountPattern[] | undefined {
  if ('rawPath' in layer) {
    const raw = layer.rawPath;
    return (Array.isArray(raw) ? raw.flat(Number.POSITIVE_INFINITY) : [raw]).map((path) => ({
      template: String(path),
    }));
  }
  if (layer.regexp instanceof RegExp && Array.isArray(layer.keys)) return fromExpress4(layer.regexp, layer.keys);
  return undefined;
}

/**
 * What path-to-regexp 0.1 (Express 4.17-4.22) makes of a mount path `p` that is not a RegExp:
 * `^` + p, each `/:name` as `(?:\/([^\/]+?))` (0.1.7: `\/(?:([^\/]+?))`), `/?` and a look-ahead for a slash
 * or the end. An array of paths is the alternatives joined with `|` (0.1.7: in a `(?:…)` group).
 */
const TAIL = /\\?\/\?\(\?=\\?\/\|\$\)$|\?\(\?=\\?\/\|\$\)$|\(\?=\\?\/\|\$\)$/;
/** The capture path-to-regexp 0.1 writes for a parameter without a pattern of its own. */
const DEFAULT_CAPTURE = /^\[\^\\?\/(\\\.)?\]\+\?$|^\(\?:\(\?!\\?\/\|.*\)\.\)\+\?$/;

function fromExpress4(regexp: RegExp, keys: readonly unknown[]): MountPattern[] | undefined {
  let source = regexp.source;
  if (!TAIL.test(source) && !(source.startsWith('(?:^') && source.endsWith(')'))) {
    return [{ template: String(regexp) }]; // mounted with a RegExp: labelled by it, as Express 5's router does
  }
  if (source.startsWith('(?:^') && source.endsWith(')') && closingOf(source, 0) === source.length - 1) {
    source = source.slice(3, -1);
  }
  const names = keys.map((key) => (key as { name?: unknown }).name);
  const patterns: MountPattern[] = [];
  let next = 0;
  for (const alternative of split(source)) {
    const body = alternative.startsWith('^') ? alternative.slice(1).replace(TAIL, '') : undefined;
    if (body === undefined || body === alternative.slice(1)) return undefined;
    const template = decompile(body, names, next);
    if (template === undefined) return undefined;
    next = template.next;
    patterns.push({ template: template.path || '/', matcher: new RegExp(alternative, regexp.flags) });
  }
  return next === names.length ? patterns : undefined;
}

/** Top-level `|` alternatives of a RegExp source. */
function split(source: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '\\') i++;
    else if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === '|' && depth === 0) {
      out.push(source.slice(start, i));
      start = i + 1;
    }
  }
  out.push(source.slice(start));
  return out;
}

/** The index of the `)` that closes the `(` at `open`; -1 when unbalanced. */
function closingOf(source: string, open: number): number {
  let depth = 0;
  for (let i = open; i < source.length; i++) {
    const c = source[i];
    if (c === '\\') i++;
    else if (c === '[') {
      while (i < source.length && source[i] !== ']') i += source[i] === '\\' ? 2 : 1;
    } else if (c === '(') depth++;
    else if (c === ')' && --depth === 0) return i;
  }
  return -1;
}

/** Static text and `(?:…)` parameter groups back to `/users/:userId`; undefined for anything else. */
function decompile(body: string, names: readonly unknown[], first: number): { path: string; next: number } | undefined {
  let path = '';
  let next = first;
  for (let i = 0; i < body.length; i++) {
    const c = body[i] as string;
    if (c === '\\') {
      path += body[++i] ?? '';
    } else if (body.startsWith('(?:', i)) {
      const end = closingOf(body, i);
      if (end === -1) return undefined;
      const param = paramOf(body.slice(i + 3, end), names[next]);
      if (param === undefined) return undefined;
      next++;
      const optional = body[end + 1] === '?';
      path += param + (optional ? '?' : '');
      i = optional ? end + 1 : end;
    } else if ('()[]{}|^$*+?.'.includes(c)) {
      return undefined; // a wildcard, an unnamed group or a pattern: not a template we can write back
    } else {
      path += c;
    }
  }
  return { path, next };
}

/** `\.` `\/` `(capture)` inside a parameter group, back to `.:name` or `/:name(capture)`. */
function paramOf(group: string, name: unknown): string | undefined {
  if (typeof name !== 'string') return undefined;
  let rest = group;
  let lead = '';
  if (rest.startsWith('\\.')) {
    lead += '.';
    rest = rest.slice(2);
  }
  if (rest.startsWith('\\/') || rest.startsWith('/')) {
    lead += '/';
    rest = rest.slice(rest[0] === '\\' ? 2 : 1);
  }
  if (!rest.startsWith('(') || closingOf(rest, 0) !== rest.length - 1) return undefined;
  const capture = rest.slice(1, -1);
  return `${lead}:${name}${DEFAULT_CAPTURE.test(capture) ? '' : `(${capture})`}`;
}

let reported = false;

/** What to do about it, for {@link reportUnreadable}. */
export const UPGRADE = 'Express 4.17+ and Express 5 with router 2.3+ give full templates';
export const UNWRAP = 'mount routers with app.use(path, router) rather than inside a function';
export const MOUNT_ONCE = 'mount each router at one path';

/**
 * Say once per process that route templates are incomplete, naming Express's version and what was missing.
 * Templates never fall back to the concrete `req.baseUrl`: that would put ids into labels.
 */
export function reportUnreadable(app: object, what: string, advice: string): void {
  if (reported) return;
  reported = true;
  console.warn(
    `[kci-metrics] @kci-metrics/express: ${versionOf(app)}: ${what}; the routes below are labelled ` +
      `"/${UNKNOWN_MOUNT}" followed by the route's own path (bounded, but less precise): ${advice}.`,
  );
}

/** "Express 4.22.3" or "Express 5.1.0 (router 2.2.0)", read from the loaded modules that made this app. */
function versionOf(app: object): string {
  const require = createRequire(import.meta.url);
  const handle = (app as { handle?: unknown }).handle;
  let express = 'Express (version unknown)';
  const routers = new Set<string>();
  for (const [file, module] of Object.entries(require.cache)) {
    const exports = module?.exports as { handle?: unknown } | undefined;
    const dir = file.replace(/[\\/][^\\/]+[\\/][^\\/]+$/, '');
    if (/[\\/]express[\\/]lib[\\/]application\.js$/.test(file) && exports?.handle === handle) {
      express = `Express ${packageVersion(require, dir) ?? '(version unknown)'}`;
    } else if (/[\\/]router[\\/]lib[\\/]layer\.js$/.test(file)) {
      routers.add(packageVersion(require, dir) ?? 'version unknown');
    }
  }
  // Express 4 has its own router; the `router` package is Express 5's (or used on its own).
  return routers.size === 0 || express.startsWith('Express 4')
    ? express
    : `${express} (router ${[...routers].join(', ')})`;
}

function packageVersion(require: NodeJS.Require, dir: string): string | undefined {
  try {
    return (require(`${dir}/package.json`) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

/** For tests: report again. */
export function resetReported(): void {
  reported = false;
}
