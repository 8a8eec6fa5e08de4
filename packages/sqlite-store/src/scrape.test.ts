import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from './errors.js';
import { type ExtraFamily, type MetricsStore, openStore, type StoreHealth } from './index.js';
import { removeTempDirs, tempDir } from './test-support/children.js';
import { parseExposition, sampleValue } from './test-support/exposition.js';
import {
  havePromtool,
  havePythonOpenMetrics,
  openMetricsProblems,
  promtoolProblems,
  pythonOpenMetricsProblems,
} from './test-support/validate.js';

afterAll(removeTempDirs);

const quiet = { warn() {} };

/** A worker store with a few series, flushed, and an aggregator-side store on the same directory. */
function stores(): { writer: MetricsStore; reader: MetricsStore; registry: Registry } {
  const { dir } = tempDir();
  const registry = new Registry();
  new Counter({ name: 'jobs_total', help: 'Jobs "done".', labelNames: ['queue'], registers: [registry] })
    .labels('a\\b')
    .inc(3);
  new Gauge({ name: 'depth', help: 'Items waiting.', registers: [registry] }).set(7);
  new Histogram({ name: 'job_seconds', help: 'Job time.', buckets: [0.1, 1], registers: [registry] }).observe(0.5);
  const writer = openStore({ dir, flushIntervalMs: 3_600_000, logger: quiet });
  writer.attach(registry);
  expect(writer.flush()).toBe(true);
  return { writer, reader: openStore({ dir, logger: quiet }), registry };
}

// Values that need every escape of both formats: backslash, double quote, line feed, a lone surrogate.
const AWKWARD = 'a "quoted"\\path\nnext \uD800 end';

const extras: ExtraFamily[] = [
  {
    name: 'app_scrape_duration_seconds',
    type: 'gauge',
    unit: 'seconds',
    help: `Time of ${AWKWARD}.`,
    samples: [{ value: 0.004 }],
  },
  {
    name: 'app_events',
    type: 'counter',
    help: 'Events, a counter named without _total.',
    samples: [
      { labels: { kind: AWKWARD }, value: 2 },
      { labels: { kind: 'plain' }, value: 0 },
    ],
  },
  { name: 'app_errors_total', type: 'counter', help: 'A counter named with _total.', samples: [{ value: 1 }] },
  { name: 'app_build_info', type: 'gauge', help: 'Build.', samples: [{ labels: { version: '1.2.3' }, value: 1 }] },
  { name: 'app_ratio', type: 'gauge', help: 'Odd values.', samples: [{ labels: { v: 'nan' }, value: Number.NaN }] },
];

describe('store.scrape()', () => {
  it('gives the same body as metrics() and the same health as health(), from one read', async () => {
    const { writer, reader } = stores();
    try {
      for (const format of ['prometheus', 'openmetrics'] as const) {
        const scrape = await reader.scrape({ format });
        expect(scrape.format).toBe(format);
        expect(scrape.body).toBe(await reader.metrics({ format }));
        expect(scrape.health).toEqual(reader.health());
        expect(scrape.health).toMatchObject({ liveWriters: 1, deadWriters: 0, conflicts: [] });
      }
    } finally {
      writer.close();
      reader.close();
    }
  });

  it('renders extra families after the stored ones, with the store escaping, in both formats', async () => {
    const { writer, reader } = stores();
    try {
      const text = (await reader.scrape({ extraFamilies: extras })).body;
      const om = (await reader.scrape({ format: 'openmetrics', extraFamilies: extras })).body;

      expect(text.startsWith(await reader.metrics())).toBe(true);
      expect(text).toContain('# HELP app_events_total Events, a counter named without _total.\n');
      expect(text).toContain('# TYPE app_events_total counter\n');
      expect(text).toContain('# TYPE app_errors_total counter\napp_errors_total 1\n');
      // 0.0.4: HELP escapes backslash and line feed only; label values also the double quote.
      expect(text).toContain('# HELP app_scrape_duration_seconds Time of a "quoted"\\\\path\\nnext \uFFFD end.\n');
      expect(text).toContain('app_events_total{kind="a \\"quoted\\"\\\\path\\nnext \uFFFD end"} 2\n');
      expect(text).not.toContain('# UNIT');
      expect(text).toContain('app_ratio{v="nan"} NaN\n');

      const storedOm = await reader.metrics({ format: 'openmetrics' });
      expect(om.startsWith(storedOm.slice(0, -'# EOF\n'.length))).toBe(true);
      expect(om.match(/^# EOF$/gm)).toHaveLength(1);
      expect(om.endsWith('app_ratio{v="nan"} NaN\n# EOF\n')).toBe(true);
      expect(om).toContain(
        '# TYPE app_scrape_duration_seconds gauge\n# UNIT app_scrape_duration_seconds seconds\n' +
          '# HELP app_scrape_duration_seconds Time of a \\"quoted\\"\\\\path\\nnext \uFFFD end.\n',
      );
      expect(om).toContain('# TYPE app_events counter\n');
      expect(om).toContain('# TYPE app_errors counter\n');

      // Read back by a strict reader: every value and label round-trips (the lone surrogate as U+FFFD,
      // as the UTF-8 body carries it).
      for (const [body, openMetrics] of [
        [text, false],
        [om, true],
      ] as const) {
        const exp = parseExposition(body, openMetrics);
        expect(sampleValue(exp, 'app_events_total', { kind: AWKWARD.replace('\uD800', '\uFFFD') })).toBe(2);
        expect(sampleValue(exp, 'app_errors_total')).toBe(1);
        expect(sampleValue(exp, 'app_build_info', { version: '1.2.3' })).toBe(1);
        expect(sampleValue(exp, 'jobs_total', { queue: 'a\\b' })).toBe(3);
      }
    } finally {
      writer.close();
      reader.close();
    }
  });

  it('is valid for promtool (0.0.4) and for the OpenMetrics parsers, stored and extra families together', async () => {
    const { writer, reader } = stores();
    try {
      const text = (await reader.scrape({ extraFamilies: extras })).body;
      const om = (await reader.scrape({ format: 'openmetrics', extraFamilies: extras })).body;
      if (havePromtool()) expect(promtoolProblems(text)).toEqual([]);
      expect(openMetricsProblems(om, { python: false })).toEqual([]);
      if (havePythonOpenMetrics()) expect(pythonOpenMetricsProblems([om])).toEqual([]);
    } finally {
      writer.close();
      reader.close();
    }
  });

  it('hands a function of extra families the health of the same snapshot, once', async () => {
    const { writer, reader } = stores();
    try {
      const seen: StoreHealth[] = [];
      const scrape = await reader.scrape({
        format: 'openmetrics',
        extraFamilies: (health) => {
          seen.push(health);
          return [
            { name: 'app_writers', type: 'gauge', help: 'Live writers.', samples: [{ value: health.liveWriters }] },
          ];
        },
      });
      expect(seen).toHaveLength(1);
      expect(seen[0]).toBe(scrape.health);
      expect(
        scrape.body.endsWith('# TYPE app_writers gauge\n# HELP app_writers Live writers.\napp_writers 1\n# EOF\n'),
      ).toBe(true);
    } finally {
      writer.close();
      reader.close();
    }
  });

  it('does not see a flush that happens after its read, in the body or the health', async () => {
    const { writer, reader, registry } = stores();
    try {
      const late = new Counter({ name: 'late_total', help: 'Written after the read.', registers: [registry] });
      const scrape = await reader.scrape({
        extraFamilies: (health) => {
          // The read is over: this flush (a new metric, another flush failure-free write) lands after it.
          late.inc(5);
          expect(writer.flush()).toBe(true);
          return [
            { name: 'app_writers', type: 'gauge', help: 'Live writers.', samples: [{ value: health.liveWriters }] },
          ];
        },
      });
      expect(scrape.body).not.toContain('late_total');
      expect(await reader.metrics()).toContain('late_total 5\n');
    } finally {
      writer.close();
      reader.close();
    }
  });

  it('rejects bad extra families with a ConfigError naming the value, and loses nothing', async () => {
    const { writer, reader } = stores();
    try {
      const gauge = (over: Partial<ExtraFamily>): ExtraFamily => ({
        name: 'app_x',
        type: 'gauge',
        help: 'x',
        samples: [{ value: 1 }],
        ...over,
      });
      const cases: Array<[unknown, string]> = [
        ['not a list', 'Invalid extraFamilies "not a list": expected an array of metric families'],
        [[gauge({ name: 'app-x' })], 'Invalid extraFamilies[0].name "app-x": expected a metric name'],
        [[gauge({ type: 'histogram' as 'gauge' })], 'Invalid extraFamilies[0].type "histogram": expected one of'],
        [[gauge({}), gauge({})], 'Invalid extraFamilies[1].name "app_x": expected a family name not used'],
        [
          [gauge({ name: 'app_c', type: 'counter' }), gauge({ name: 'app_c_total', type: 'counter' })],
          'Invalid extraFamilies[1].name "app_c_total"',
        ],
        [[gauge({ unit: 'bytes' })], 'Invalid extraFamilies[0].unit "bytes": expected a unit that the family name'],
        [[gauge({ help: 3 as unknown as string })], 'Invalid extraFamilies[0].help 3'],
        [[gauge({ samples: [{ labels: { 'bad-label': 'v' }, value: 1 }] })], 'labels name "bad-label"'],
        [[gauge({ samples: [{ labels: { __name__: 'v' }, value: 1 }] })], 'labels name "__name__"'],
        [[gauge({ samples: [{ labels: { a: 1 as unknown as string }, value: 1 }] })], 'samples[0].labels.a 1'],
        [[gauge({ samples: [{ value: '1' as unknown as number }] })], 'Invalid extraFamilies[0].samples[0].value "1"'],
        [[gauge({ type: 'counter', samples: [{ value: -1 }] })], 'samples[0].value -1: expected a counter value >= 0'],
        [[gauge({ samples: [{ value: 1 }, { value: 2 }] })], 'samples[1].labels'],
      ];
      for (const [families, message] of cases) {
        const scrape = reader.scrape({ extraFamilies: families as ExtraFamily[] });
        await expect(scrape, message).rejects.toThrow(ConfigError);
        await expect(reader.scrape({ extraFamilies: families as ExtraFamily[] })).rejects.toThrow(message);
      }
      // The same checks for families a function returns, and for the format.
      await expect(reader.scrape({ extraFamilies: () => [gauge({ name: '1x' })] })).rejects.toThrow(
        'Invalid extraFamilies[0].name "1x"',
      );
      await expect(reader.scrape({ format: 'json' as 'prometheus' })).rejects.toThrow('Invalid format "json"');
      // Nothing was lost: the store still serves everything.
      expect(sampleValue(parseExposition((await reader.scrape()).body), 'jobs_total', { queue: 'a\\b' })).toBe(3);
    } finally {
      writer.close();
      reader.close();
    }
  });

  it('rejects with STORE_CLOSED after close', async () => {
    const { writer, reader } = stores();
    writer.close();
    reader.close();
    await expect(reader.scrape()).rejects.toMatchObject({ code: 'STORE_CLOSED' });
  });
});
