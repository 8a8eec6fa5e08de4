/**
 * The route table of the KernelCI Dashboard API mirror, shared by the Koa and the Express app so that both
 * serve the same paths and report the same route templates (the `route` label the dashboards show).
 *
 * Templates use path-to-regexp v8 syntax, which @koa/router 15 and Express 5 both use: `:name` is one
 * path segment, `*name` is one or more segments (a git branch such as `for-next/core`). Order matters:
 * the first matching route answers, so the catch-all `/api/tree/:treeName/*gitBranch` comes last.
 */
import * as r from './resources.js';
import type { ResourceBuilder } from './tree-resources.js';
import * as t from './tree-resources.js';

export type RouteMethod = 'GET' | 'POST';

export interface Route {
  readonly method: RouteMethod;
  /** The template, also the `route` label value. */
  readonly path: string;
  readonly build: ResourceBuilder;
}

const route = (method: RouteMethod, path: string, build: ResourceBuilder): Route => ({ method, path, build });

/**
 * Every route of the mirrored API, in matching order.
 *
 * @example
 * for (const { method, path } of ROUTES) console.log(method, path); // GET /api/test/status-history ...
 */
export const ROUTES: readonly Route[] = [
  route('GET', '/api/test/status-history', r.testStatusHistory),
  route('GET', '/api/test/:testId', r.testDetails),
  route('GET', '/api/test/:testId/issues', r.testIssues),
  route('GET', '/api/tree/', t.treeList),
  route('GET', '/api/tree/:commitHash/full', t.treeFull),
  route('GET', '/api/tree/:commitHash/summary', t.treeSummary),
  route('GET', '/api/tree/:commitHash/builds', t.treeBuilds),
  route('GET', '/api/tree/:commitHash/boots', t.treeBoots),
  route('GET', '/api/tree/:commitHash/tests', t.treeTests),
  route('GET', '/api/tree/:commitHash/commits', t.treeCommits),
  route('GET', '/api/tree/commits-history', t.commitsHistory),
  route('GET', '/api/tree/:treeName/:gitBranch/commits', t.treeCommits),
  route('GET', '/api/tree/:treeName/*gitBranch/compare', t.treeCompare),
  route('GET', '/api/tree/:treeName/*gitBranch/compare/boots', t.treeCompare),
  route('GET', '/api/tree/:treeName/*gitBranch/compare/tests', t.treeCompare),
  route('GET', '/api/tree/:treeName/*gitBranch/compare/builds', t.treeCompare),
  route('GET', '/api/tree/:treeName/*gitBranch/:commitHash/full', t.treeFull),
  route('GET', '/api/tree/:treeName/*gitBranch/:commitHash/summary', t.treeSummary),
  route('GET', '/api/tree/:treeName/*gitBranch/:commitHash/builds', t.treeBuilds),
  route('GET', '/api/tree/:treeName/*gitBranch/:commitHash/boots', t.treeBoots),
  route('GET', '/api/tree/:treeName/*gitBranch/:commitHash/tests', t.treeTests),
  route('GET', '/api/tree/:treeName/*gitBranch/:commitHash/commits', t.treeCommits),
  route('GET', '/api/tree/:treeName/*gitBranch', t.treeLatest),
  route('GET', '/api/build/:buildId', r.buildDetails),
  route('GET', '/api/build/:buildId/tests', r.buildTests),
  route('GET', '/api/build/:buildId/issues', r.buildIssues),
  route('GET', '/api/log-downloader/', r.logDownloader),
  route('GET', '/api/hardware/', r.hardwareList),
  route('GET', '/api/hardware/selectors/', r.hardwareSelectors),
  route('GET', '/api/hardware-by-revision/', r.hardwareByRevision),
  route('POST', '/api/hardware/:hardwareId', r.hardwareDetails),
  route('POST', '/api/hardware/:hardwareId/builds', r.hardwareBuilds),
  route('POST', '/api/hardware/:hardwareId/boots', r.hardwareBoots),
  route('POST', '/api/hardware/:hardwareId/tests', r.hardwareTests),
  route('POST', '/api/hardware/:hardwareId/summary', r.hardwareSummary),
  route('POST', '/api/hardware/:hardwareId/commit-history', r.hardwareCommitHistory),
  route('GET', '/api/issue/', r.issueList),
  route('POST', '/api/issue/extras/', r.issueExtras),
  route('GET', '/api/issue/:issueId', r.issueDetails),
  route('GET', '/api/issue/:issueId/tests', r.issueTests),
  route('GET', '/api/issue/:issueId/builds', r.issueBuilds),
  route('GET', '/api/origins/', r.origins),
  route('GET', '/api/tree-report/', r.treeReport),
  route('GET', '/api/metrics/', r.appMetrics),
  route('GET', '/api/schema/', () => schema),
];

// The schema route describes the table itself, like the original's OpenAPI document (trimmed).
const schema = {
  openapi: '3.0.3',
  info: { title: 'KernelCI Dashboard API (synthetic mirror)', version: '1.0.0' },
  paths: Object.fromEntries(
    ROUTES.map(({ method, path }) => [
      path.replace(/[:*](\w+)/g, '{$1}'),
      { [method.toLowerCase()]: { responses: { 200: { description: 'OK' } } } },
    ]),
  ),
};
