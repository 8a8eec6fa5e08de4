/**
 * Issue #6, bad input: ten thousand random unknown URLs (scanners, typos, path traversal, huge paths) and
 * invented methods against the demo backend. The number of series must stay bounded: the only new ones
 * are `route="<unmatched>"`, one per normalised method and status; invented methods are `_OTHER`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../synthetic.js';
import { type Cluster, pollUntil, requestTotal, scrapeRaw, startCluster } from './support/cluster.js';
import { LOAD_PATHS, report, sendAll } from './support/load.js';

const URLS = 10_000;
/** Methods Node's HTTP parser accepts: the standard ones, and WebDAV/UPnP ones no route declares. */
const METHODS = ['GET', 'GET', 'GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'PROPFIND', 'PURGE', 'MKCOL', 'SEARCH'];
/** Methods Node's parser rejects with 400 before any application code runs: never recorded. */
const INVENTED = ['BREW', 'FOO'];
const STANDARD = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']);

const ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:@%";
const word = (rng: Rng, max: number) =>
  Array.from({ length: rng.int(1, max) }, () => ALPHABET[rng.int(0, ALPHABET.length - 1)]).join('');

/** A URL that no route matches: random segments under / or under /api/ (with a prefix no resource has). */
function unknownUrl(rng: Rng): string {
  const kind = rng.int(0, 5);
  const segments = Array.from({ length: rng.int(1, 6) }, () => word(rng, 12));
  if (kind === 0) return `/zz${segments.join('/')}?${word(rng, 20)}=${word(rng, 20)}`;
  if (kind === 1) return `/api/zz${segments.join('/')}/`;
  if (kind === 2) return `/${'../'.repeat(rng.int(1, 5))}etc/${segments[0]}`; // path traversal
  if (kind === 3) return `/%2e%2e/%2e%2e/${segments.join('/')}`;
  if (kind === 4) return `/zz${'a'.repeat(rng.int(1000, 4000))}`; // long paths
  return `/.${segments.join('/')}`; // dotfiles: /.env, /.git/config lookalikes
}

/** Series of the http_* families as `name{labels}`, values dropped. */
function httpSeries(text: string): Set<string> {
  return new Set(
    text
      .split('\n')
      .filter((line) => line.startsWith('http_'))
      .map((line) => line.slice(0, line.lastIndexOf(' '))),
  );
}

describe(`${URLS} random unknown URLs and invented methods`, () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster({ workers: 2 });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('add only route="<unmatched>" series, one per normalised method and status; scraping keeps working', async () => {
    const { backend, metricsPort } = cluster;
    // Known routes first, so that "before" has series of its own.
    const known = LOAD_PATHS.map((path) => ({ method: 'GET', path }));
    expect(await sendAll(backend.port, known)).toEqual(known.map(() => 200));
    const counted = async () => (await scrapeRaw(metricsPort)).body;
    const before = await pollUntil(counted, (body) => requestTotal(body) === known.length);
    expect(requestTotal(before)).toBe(known.length);

    const rng = new Rng('unknown-urls');
    const flood = Array.from({ length: URLS }, (_, i) => ({
      method: i % 500 === 0 ? (INVENTED[(i / 500) % 2] as string) : rng.pick(METHODS),
      path: unknownUrl(rng),
    }));
    const started = performance.now();
    const firstHalf = await sendAll(backend.port, flood.slice(0, URLS / 2), 16);
    const recordedFirst = firstHalf.filter((status) => status !== 400).length;
    const half = await pollUntil(counted, (body) => requestTotal(body) === known.length + recordedFirst);
    const statuses = [...firstHalf, ...(await sendAll(backend.port, flood.slice(URLS / 2), 16))];
    const seconds = (performance.now() - started) / 1000;

    // Every request reaching the application is a 404 under <unmatched>; invented methods are refused by
    // Node's HTTP parser (400) before any application code, so they are not recorded at all.
    const expected = new Set<string>();
    let recorded = 0;
    flood.forEach(({ method }, i) => {
      if (INVENTED.includes(method)) {
        expect(statuses[i]).toBe(400);
        return;
      }
      expect(statuses[i], `${method} ${flood[i]?.path}`).toBe(404);
      recorded++;
      const label = STANDARD.has(method) ? method : '_OTHER';
      expected.add(`method="${label}",route="<unmatched>",status_code="404"`);
    });
    const after = await pollUntil(counted, (body) => requestTotal(body) === known.length + recorded);
    expect(requestTotal(after)).toBe(known.length + recorded);

    const beforeSeries = httpSeries(before);
    const afterSeries = httpSeries(after);
    for (const series of beforeSeries) expect(afterSeries).toContain(series);
    const added = [...afterSeries].filter((series) => !beforeSeries.has(series));
    // Every added series belongs to an expected (method, <unmatched>, 404) label set, or is the active
    // requests gauge of a method label; and each expected label set has its histogram.
    const histogramLabels = new Set(
      added
        .filter((s) => s.startsWith('http_request_duration_seconds_count{'))
        .map((s) => s.slice(s.indexOf('{') + 1, -1)),
    );
    expect(histogramLabels).toEqual(expected);
    for (const series of added) {
      const labels = series.slice(series.indexOf('{') + 1, -1);
      if (series.startsWith('http_server_active_requests{')) {
        expect(labels).toMatch(/^method="(_OTHER|[A-Z]+)"$/);
        continue;
      }
      expect([...expected].some((e) => labels.startsWith(e))).toBe(true);
    }
    // Bounded, not merely small: the second 5000 different URLs added no series at all.
    expect(afterSeries).toEqual(httpSeries(half));
    expect(after).not.toContain('zz'); // no URL text ever reaches a label
    expect(after).not.toContain('PROPFIND');

    report({
      test: 'unknown-urls',
      urls: URLS,
      seconds: Math.round(seconds * 10) / 10,
      recorded,
      refusedByParser: URLS - recorded,
      httpSeriesBefore: beforeSeries.size,
      httpSeriesAfterHalf: httpSeries(half).size,
      httpSeriesAfter: afterSeries.size,
      labelSetsAdded: [...histogramLabels].sort(),
      exposedLinesBefore: before.split('\n').length,
      exposedLinesAfter: after.split('\n').length,
    });
  });
});
