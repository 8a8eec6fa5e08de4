/**
 * What the traffic generator sends: a deterministic sequence of realistic requests that visits every route
 * first, then follows a dashboard-like mix, with some unknown URLs (404, `<unmatched>`), some `missing`
 * ids (404 from a matched route) and some `error` ids (500).
 */
import { MAGIC } from './respond.js';
import { ROUTES, type Route } from './routes.js';
import { BRANCHES, ORIGINS, PLATFORMS, Rng, TEST_PATHS, TREES } from './synthetic.js';

export interface PlannedRequest {
  method: 'GET' | 'POST';
  /** Path and query string. */
  url: string;
  body?: string;
  /** The route template it should match, or `<unmatched>`. */
  route: string;
}

export const UNMATCHED = '<unmatched>';

// Paths scanners and typos produce; none matches a route (`/api/tree` lacks the template's trailing slash).
const UNKNOWN_PATHS = [
  '/',
  '/favicon.ico',
  '/wp-login.php',
  '/.env',
  '/api/tree',
  '/api/unknown',
  '/admin/login',
  '/api/v2/tree/',
];

// Routes the dashboard's pages call most often get more traffic.
const WEIGHTS: Readonly<Record<string, number>> = {
  '/api/tree/': 8,
  '/api/tree/:treeName/*gitBranch/:commitHash/summary': 6,
  '/api/tree/:treeName/*gitBranch/:commitHash/full': 4,
  '/api/tree/:commitHash/summary': 4,
  '/api/hardware/': 4,
  '/api/issue/': 3,
  '/api/build/:buildId': 3,
  '/api/test/:testId': 3,
};

const SINGLE_SEGMENT_BRANCHES = BRANCHES.filter((b) => !b.includes('/'));

function paramValue(rng: Rng, name: string, wildcard: boolean): string {
  switch (name) {
    case 'treeName':
      return rng.pick(TREES);
    case 'gitBranch':
      // `for-next/core` only fits a `*gitBranch` template; in a `:gitBranch` one it would match another route
      return rng.pick(wildcard ? BRANCHES : SINGLE_SEGMENT_BRANCHES);
    case 'commitHash':
      return rng.hex(40);
    case 'hardwareId':
      return rng.pick(PLATFORMS);
    default: // testId, buildId, issueId: "origin:id" as in KernelCI
      return `${rng.pick(ORIGINS)}:${rng.hex(24)}`;
  }
}

function queryFor(rng: Rng, route: Route): URLSearchParams {
  const query = new URLSearchParams({ origin: rng.pick(ORIGINS) });
  if (route.path === '/api/test/status-history') query.set('path', rng.pick(TEST_PATHS));
  if (route.path === '/api/log-downloader/')
    query.set('log_download_url', `https://storage.kernelci.org/logs/${rng.hex(16)}/`);
  if (route.path === '/api/hardware-by-revision/') query.set('commit_hash', rng.hex(40));
  if (route.path === '/api/tree-report/') query.set('tree_name', rng.pick(TREES));
  return query;
}

/** A concrete request of `route`; `magic` replaces every parameter (or the origin when there is none). */
export function requestFor(rng: Rng, route: Route, magic?: string): PlannedRequest {
  const path = route.path.replace(
    /([:*])(\w+)/g,
    (_, kind: string, name: string) => magic ?? paramValue(rng, name, kind === '*'),
  );
  const query = queryFor(rng, route);
  if (magic && path === route.path) query.set('origin', magic);
  const request: PlannedRequest = { method: route.method, url: `${path}?${query}`, route: route.path };
  if (route.method === 'POST') {
    request.body = JSON.stringify({
      origin: query.get('origin'),
      filter: { 'build.status': ['FAIL'] },
      issues: [[`maestro:${rng.hex(20)}`, 1]],
    });
  }
  return request;
}

/**
 * An endless, deterministic sequence of requests: every route once (in table order), then a weighted mix
 * where about 3% are unknown URLs, 2% `missing` ids and 2% `error` ids.
 *
 * @example
 * const plan = trafficPlan('seed');
 * plan.next().value; // { method: 'GET', url: '/api/test/status-history?origin=...', route: '/api/test/status-history' }
 */
export function* trafficPlan(seed = 'kci-traffic'): Generator<PlannedRequest, never> {
  const rng = new Rng(seed);
  for (const route of ROUTES) yield requestFor(rng, route);
  const weighted = ROUTES.flatMap((route) => Array<Route>(WEIGHTS[route.path] ?? 1).fill(route));
  for (;;) {
    const roll = rng.next();
    if (roll < 0.03) yield { method: 'GET', url: rng.pick(UNKNOWN_PATHS), route: UNMATCHED };
    else if (roll < 0.05) yield requestFor(rng, rng.pick(ROUTES), MAGIC.missing);
    else if (roll < 0.07) yield requestFor(rng, rng.pick(ROUTES), MAGIC.error);
    else yield requestFor(rng, rng.pick(weighted));
  }
}
