/**
 * The adapters' exemplar cases (issue 16 §1), one copy for Koa and Express: each adapter's test file gives
 * an app with one parameterised route `GET /api/tree/:commitHash` (answered after 20 ms) and the README's
 * traceparent function for its own context type; the cases serve it over real HTTP and read the registry.
 */
import type { RequestListener } from 'node:http';
import { afterEach, expect, it, vi } from 'vitest';
import { listen, type Registry, series, settled } from './http.js';

export const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
export const TRACEPARENT = `00-${TRACE_ID}-00f067aa0ba902b7-01`;
/** A W3C traceparent: version, trace id, parent id, flags. */
export const TRACEPARENT_PATTERN = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/;

/** The registry parts these cases use besides series(): prom-client's Registry, typed by shape. */
interface ExemplarRegistry extends Registry {
  contentType: string;
  metrics(): Promise<string>;
  setContentType(type: string): void;
  getSingleMetric(name: string): unknown;
}

/** An app with the adapter and its registry. */
export interface ExemplarApp {
  handler: RequestListener;
  registry: unknown;
}

export interface ExemplarCasesOptions {
  /** An app with the adapter, `exemplars` as its option (no option when undefined). */
  app(exemplars: unknown): ExemplarApp;
  /** The adapter's README function: the trace id of the request's traceparent header. */
  fromTraceparent: unknown;
  /** The duration histogram's buckets (core's HTTP_DURATION_BUCKETS). */
  buckets: readonly number[];
}

const OPENMETRICS = 'application/openmetrics-text; version=1.0.0; charset=utf-8';
const PROMETHEUS = 'text/plain; version=0.0.4; charset=utf-8';

/** The registry in OpenMetrics, the only format that carries exemplars. */
async function openMetrics(registry: ExemplarRegistry): Promise<string> {
  registry.setContentType(OPENMETRICS);
  return registry.metrics();
}
const withExemplar = (text: string) =>
  text.split('\n').filter((l) => l.startsWith('http_request_duration_seconds_bucket') && l.includes(' # '));

/** Define the cases in the current describe block. */
export function exemplarCases({ app, fromTraceparent, buckets }: ExemplarCasesOptions): void {
  const closers: (() => Promise<void>)[] = [];
  afterEach(async () => {
    await Promise.all(closers.splice(0).map((close) => close()));
    vi.restoreAllMocks();
  });
  /** The app on a loopback port, and a GET that reads the whole response and returns its status. */
  const serve = async (exemplars: unknown) => {
    const { handler, registry } = app(exemplars);
    const { base, close } = await listen(handler);
    closers.push(close);
    const get = async (path: string, headers: Record<string, string> = {}) => {
      const res = await fetch(base + path, { headers });
      await res.arrayBuffer();
      return res.status;
    };
    return { registry: registry as ExemplarRegistry, get };
  };

  it('carry the trace id of the traceparent header, in the bucket of the observed duration', async () => {
    const { registry, get } = await serve(fromTraceparent);
    expect(await get('/api/tree/abc', { traceparent: TRACEPARENT })).toBe(200);
    await settled(registry);
    const lines = withExemplar(await registry.metrics()); // the registry is OpenMetrics already
    expect(lines).toHaveLength(1);
    const match = /^http_request_duration_seconds_bucket\{le="([^"]+)",(.*)\} 1 # \{trace_id="(\w+)"\} (\S+) \S+$/.exec(
      lines[0] as string,
    );
    expect(match, lines[0]).not.toBeNull();
    const [, le, labels, traceId, value] = match as unknown as string[];
    expect(labels).toBe('method="GET",route="/api/tree/:commitHash",status_code="200"');
    expect(traceId).toBe(TRACE_ID);
    expect(Number(le)).toBe(buckets.find((b) => Number(value) <= b));
    const [one] = await series(registry);
    expect(one?.sum).toBe(Number(value)); // the exemplar's value is the request's own observation
  });

  it('are absent for requests without a header or with a malformed one; those are still counted', async () => {
    const { registry, get } = await serve(fromTraceparent);
    expect(await get('/api/tree/abc')).toBe(200);
    expect(await get('/api/tree/abc', { traceparent: 'not-a-trace' })).toBe(200);
    expect(await get('/api/tree/abc', { traceparent: `00-${TRACE_ID}-short-01` })).toBe(200);
    await settled(registry);
    expect(withExemplar(await registry.metrics())).toEqual([]);
    expect((await series(registry))[0]?.count).toBe(3);
  });

  it.each([
    [
      'throws',
      () => {
        throw new Error('no span');
      },
      'threw Error: no span',
    ],
    ['returns labels over 128 characters', () => ({ trace_id: TRACE_ID.repeat(4) }), 'returned labels of 136'],
    ['returns a string', () => TRACE_ID, `returned "${TRACE_ID}"`],
    ['returns a number', () => 7, 'returned 7: expected an object'],
  ])(
    'whose function %s: the request is answered and counted, without exemplar, one warning',
    async (_, fn, message) => {
      const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
      const { registry, get } = await serve(fn);
      expect(await get('/api/tree/abc', { traceparent: TRACEPARENT })).toBe(200);
      expect(await get('/api/tree/def', { traceparent: TRACEPARENT })).toBe(200);
      await settled(registry);
      expect(withExemplar(await registry.metrics())).toEqual([]);
      expect((await series(registry))[0]?.count).toBe(2);
      expect(warn).toHaveBeenCalledTimes(1);
      expect(warn.mock.calls[0]?.[0]).toContain(message);
    },
  );

  it('are off without the option: no enableExemplars, the fast path, no exemplar in the output', async () => {
    const { registry, get } = await serve(undefined);
    const histogram = registry.getSingleMetric('http_request_duration_seconds') as {
      enableExemplars: boolean;
      observe(...args: unknown[]): void;
    };
    expect(histogram.enableExemplars).toBe(false);
    expect(registry.contentType).toBe(PROMETHEUS);
    expect(await get('/api/tree/abc', { traceparent: TRACEPARENT })).toBe(200); // a new series: prom-client
    await settled(registry);
    const observe = vi.spyOn(histogram, 'observe');
    for (let i = 0; i < 3; i++) expect(await get('/api/tree/abc', { traceparent: TRACEPARENT })).toBe(200);
    await settled(registry);
    expect((await series(registry))[0]?.count).toBe(4);
    expect(observe).not.toHaveBeenCalled(); // a known series never goes through prom-client's observe()
    expect(withExemplar(await openMetrics(registry))).toEqual([]);
  });
}
