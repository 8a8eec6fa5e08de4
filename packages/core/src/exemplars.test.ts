import { Histogram, Registry, type RegistryContentType } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConfigError } from './errors.js';
import { exemplarObserver } from './exemplars.js';
import { HTTP_DURATION_BUCKETS } from './http-metrics.js';
import { createHttpRecorder } from './recorder.js';

/** What an app passes as `registry` with exemplars on (prom-client's typings omit the constructor's argument). */
function openMetricsRegistry(): Registry {
  const registry = new Registry() as Registry<RegistryContentType>;
  registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  return registry as unknown as Registry;
}

interface Req {
  traceId?: string;
}

afterEach(() => {
  vi.restoreAllMocks();
});

/** The registry in OpenMetrics, the only format that carries exemplars. */
async function openMetrics(registry: Registry): Promise<string> {
  (registry as Registry<RegistryContentType>).setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  return registry.metrics();
}

/** The bucket lines of the duration histogram that carry an exemplar. */
async function exemplarLines(registry: Registry, name = 'http_request_duration_seconds'): Promise<string[]> {
  return (await openMetrics(registry)).split('\n').filter((l) => l.startsWith(`${name}_bucket`) && l.includes(' # '));
}

async function count(registry: Registry, name = 'http_request_duration_seconds'): Promise<number> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  const values = (metric?.values ?? []) as { value: number; metricName?: string }[];
  return values.filter((v) => v.metricName === `${name}_count`).reduce((n, v) => n + v.value, 0);
}

const request = (recorder: ReturnType<typeof createHttpRecorder<Req>>, ctx: Req, route = '/api/tree/') =>
  recorder.start('GET').end({ route, statusCode: 200, ctx });

describe('the exemplars option', () => {
  it('attaches the labels it returns to the observation, in the bucket the duration falls in', async () => {
    const recorder = createHttpRecorder<Req>({
      exemplars: (req) => (req.traceId ? { trace_id: req.traceId } : undefined),
    });
    const before = Date.now() / 1000;
    request(recorder, { traceId: '4bf92f3577b34da6a3ce929d0e0e4736' });
    const lines = await exemplarLines(recorder.registry);
    expect(lines).toHaveLength(1);
    const match = /^http_request_duration_seconds_bucket\{(.*)\} 1 # \{trace_id="([0-9a-f]+)"\} (\S+) (\S+)$/.exec(
      lines[0] as string,
    );
    expect(match, lines[0]).not.toBeNull();
    const [, labels, traceId, value, timestamp] = match as unknown as string[];
    expect(traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    // the bucket is the first whose bound the exemplar's value does not exceed
    const bound = HTTP_DURATION_BUCKETS.find((b) => Number(value) <= b);
    expect(labels).toBe(`le="${bound}",method="GET",route="/api/tree/",status_code="200"`);
    expect(Number(timestamp)).toBeGreaterThanOrEqual(Math.floor(before));
    // the text format (0.0.4) has no exemplars
    (recorder.registry as Registry<RegistryContentType>).setContentType(Registry.PROMETHEUS_CONTENT_TYPE);
    expect(await recorder.registry.metrics()).not.toContain('trace_id');
  });

  it('records a request without an exemplar when the function returns undefined, null or {}', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const results = [undefined, null, {}];
    let i = 0;
    const recorder = createHttpRecorder<Req>({ exemplars: () => results[i++] as undefined });
    for (let n = 0; n < results.length; n++) request(recorder, {});
    expect(await count(recorder.registry)).toBe(3);
    expect(await exemplarLines(recorder.registry)).toEqual([]);
    expect(warn).not.toHaveBeenCalled();
  });

  it.each([
    [
      'throws',
      () => () => {
        throw new Error('no span');
      },
      'threw Error: no span',
    ],
    ['returns a string', () => () => 'abc', 'returned "abc": expected an object'],
    ['returns an array', () => () => ['abc'], 'returned ["abc"]: expected an object'],
    [
      'returns a number label value',
      () => () => ({ trace_id: 42 }),
      'returned 42 for label trace_id: expected a string',
    ],
    ['returns a bad label name', () => () => ({ 'trace-id': 'a' }), 'returned the label name "trace-id"'],
    [
      'returns labels over 128 characters',
      () => () => ({ trace_id: 'a'.repeat(121) }),
      'returned labels of 129 characters',
    ],
  ])('that %s costs the exemplar, never the request, and says so once', async (_, make, message) => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const recorder = createHttpRecorder<Req>({ exemplars: make() as unknown as () => undefined });
    request(recorder, {});
    request(recorder, {}, '/other');
    expect(await count(recorder.registry)).toBe(2);
    const text = await openMetrics(recorder.registry);
    expect(text).not.toContain(' # {');
    expect(text).toContain('http_request_duration_seconds_count{method="GET",route="/other",status_code="200"} 1');
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0]?.[0]).toContain(message);
  });

  it('accepts labels of exactly 128 characters, names and values together', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const recorder = createHttpRecorder<Req>({ exemplars: () => ({ trace_id: 'a'.repeat(120) }) });
    request(recorder, {});
    expect(await exemplarLines(recorder.registry)).toHaveLength(1);
    expect(warn).not.toHaveBeenCalled();
  });

  it('keeps the labels as returned then, not as the app changes its object later', async () => {
    const mine = { trace_id: 'first' };
    const recorder = createHttpRecorder<Req>({ exemplars: () => mine });
    request(recorder, {});
    mine.trace_id = 'changed';
    expect((await exemplarLines(recorder.registry))[0]).toContain('# {trace_id="first"}');
  });

  it('works with custom labels and a prefix', async () => {
    const recorder = createHttpRecorder<Req>({
      prefix: 'app_',
      customLabels: { region: 'eu' },
      exemplars: (req) => ({ trace_id: req.traceId ?? '' }),
    });
    request(recorder, { traceId: 'abc' });
    const [line] = await exemplarLines(recorder.registry, 'app_http_request_duration_seconds');
    expect(line).toMatch(/^app_http_request_duration_seconds_bucket\{[^}]*region="eu"[^}]*\} 1 # \{trace_id="abc"\}/);
  });

  it('is refused when it is not a function, naming the value', () => {
    const make = () => createHttpRecorder({ exemplars: 'trace_id' as never });
    expect(make).toThrow(ConfigError);
    expect(make).toThrow('Invalid option exemplars "trace_id": expected a function of the request context');
  });

  it('makes its default registry OpenMetrics, and refuses a registry of the text format, naming its type', () => {
    expect(createHttpRecorder({ exemplars: () => undefined }).registry.contentType).toBe(
      Registry.OPENMETRICS_CONTENT_TYPE,
    );
    expect(createHttpRecorder({}).registry.contentType).toBe(Registry.PROMETHEUS_CONTENT_TYPE);
    const make = () => createHttpRecorder({ registry: new Registry(), exemplars: () => undefined });
    expect(make).toThrow(ConfigError);
    expect(make).toThrow(
      'Invalid content type of option registry "text/plain; version=0.0.4; charset=utf-8": expected "application/openmetrics-text',
    );
  });

  it('is refused on a registry whose duration histogram was defined the other way, in both directions', () => {
    const registry = openMetricsRegistry();
    createHttpRecorder({ registry });
    expect(() => createHttpRecorder({ registry, exemplars: () => undefined })).toThrow(
      'Invalid exemplars of http_request_duration_seconds "exemplars on": expected "exemplars off"',
    );
    const other = openMetricsRegistry();
    createHttpRecorder({ registry: other, exemplars: () => undefined });
    expect(() => createHttpRecorder({ registry: other })).toThrow(
      'Invalid exemplars of http_request_duration_seconds "exemplars off": expected "exemplars on"',
    );
    // two recorders with exemplars share the histogram
    const shared = createHttpRecorder({ registry: other, exemplars: () => ({ trace_id: 'b' }) });
    expect(shared.registry).toBe(other);
  });
});

describe('exemplarObserver', () => {
  it('leaves a histogram as prom-client observe() would, exemplars included, with and without exemplar labels', async () => {
    const make = (name: string) => {
      const registry = openMetricsRegistry();
      const histogram = new Histogram({
        name,
        help: 'h',
        labelNames: ['method', 'route', 'status_code'],
        buckets: [0.01, 0.1, 1],
        enableExemplars: true,
        registers: [registry],
      });
      return { registry, histogram: histogram as Histogram<string> };
    };
    const reference = make('h_seconds');
    const tested = make('h_seconds');
    const observe = exemplarObserver(tested.histogram, (ctx: Req) =>
      ctx.traceId === undefined ? undefined : { trace_id: ctx.traceId },
    );
    let n = 0;
    for (const route of ['/a', '/b', '/a', '/c', '/a', '/b']) {
      for (const value of [0.005, 0.05, 0.5, 5, 0.05]) {
        const labels = { method: 'GET', route, status_code: '200' };
        const traceId = n++ % 3 === 0 ? `t${n}` : undefined;
        observe(labels, value, { traceId });
        if (traceId === undefined) reference.histogram.observe({ labels, value });
        else reference.histogram.observe({ labels, value, exemplarLabels: { trace_id: traceId } });
      }
    }
    // timestamps aside (Date.now() of each observation), the two expositions are the same
    const withoutTimes = (text: string) => text.replace(/(# \{[^}]*\} \S+) \S+/g, '$1');
    const text = withoutTimes(await tested.registry.metrics());
    expect(text).toBe(withoutTimes(await reference.registry.metrics()));
    expect(text).toContain('h_seconds_bucket{le="+Inf",method="GET",route="/a",status_code="200"} 15 # {trace_id=');
  });
});

describe('without the exemplars option', () => {
  const duration = (registry: Registry) =>
    registry.getSingleMetric('http_request_duration_seconds') as Histogram<string> & { enableExemplars: boolean };

  it('the histogram has no exemplars and a known series is not observed through prom-client', async () => {
    for (const customLabels of [undefined, { region: 'eu' }]) {
      const recorder = createHttpRecorder<Req>({ customLabels });
      const histogram = duration(recorder.registry);
      expect(histogram.enableExemplars).toBe(false);
      request(recorder, {}); // a new series: through prom-client's observe(), then remembered
      await recorder.registry.metrics();
      const observe = vi.spyOn(histogram, 'observe');
      for (let i = 0; i < 5; i++) request(recorder, {});
      expect(await count(recorder.registry)).toBe(6);
      expect(observe).not.toHaveBeenCalled(); // the fast path
      expect(await openMetrics(recorder.registry)).not.toContain(' # {');
    }
  });

  it('with the option, a known series is counted on the fast path too, with or without exemplar labels', async () => {
    const recorder = createHttpRecorder<Req>({
      exemplars: (req) => (req.traceId === undefined ? undefined : { trace_id: req.traceId }),
    });
    const histogram = duration(recorder.registry);
    expect(histogram.enableExemplars).toBe(true);
    request(recorder, {}); // a new series: through prom-client's observe(), then remembered
    const observe = vi.spyOn(histogram, 'observe');
    request(recorder, { traceId: 'abc' });
    request(recorder, {});
    request(recorder, {});
    expect(observe).not.toHaveBeenCalled(); // the exemplar is set by prom-client's updateExemplar()
    expect(await count(recorder.registry)).toBe(4);
    const lines = await exemplarLines(recorder.registry);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('# {trace_id="abc"}');
  });
});
