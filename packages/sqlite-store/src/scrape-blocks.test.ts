// Issue 17: after a change, a scrape renders again only the blocks of series whose stamp moved (stamps.ts,
// blocks.ts) and reuses the rest. Whatever changed, the exposition must be the one a store opened anew
// renders from scratch; and a change of one series must give a new version to one chunk only.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { collectGarbage } from './gc.js';
import { type ExpositionFormat, type MetricsStore, openStore, type Scrape } from './index.js';
import { ALL_BLOCKS } from './stamps.js';
import { prepareStatements } from './statements.js';
import { killAll, killHard, removeTempDirs, startWorker, tempDir } from './test-support/children.js';
import { parseExposition, sampleValue } from './test-support/exposition.js';
import { foldNow } from './test-support/fold.js';

afterEach(killAll);
afterAll(removeTempDirs);

const quiet = { warn() {} };
const FORMATS: ExpositionFormat[] = ['prometheus', 'openmetrics'];
const DB = 'kci-metrics.sqlite';

/** Scrape `reader` and check it against a store opened anew on the same directory (a full render). */
async function scrapeFresh(reader: MetricsStore, dir: string, format: ExpositionFormat): Promise<Scrape> {
  const ours = await reader.scrape({ format });
  const other = openStore({ dir, logger: quiet });
  try {
    expect(ours.body).toBe(await other.metrics({ format }));
  } finally {
    other.close();
  }
  return ours;
}

/** Versions of `after`'s chunks that `before` did not have. */
const newChunks = (before: Scrape, after: Scrape) => {
  const known = new Set(before.parts.chunks.map((c) => c.version));
  return after.parts.chunks.filter((c) => !known.has(c.version));
};

/** A writer in this process: a counter and a histogram of `n` series each, flushed. */
function writerWith(dir: string, n: number) {
  const registry = new Registry();
  const counter = new Counter({ name: 'jobs_total', help: 'Jobs.', labelNames: ['i'], registers: [registry] });
  const histogram = new Histogram({
    name: 'job_seconds',
    help: 'Job time.',
    labelNames: ['i'],
    buckets: [0.1, 1],
    registers: [registry],
  });
  for (let i = 0; i < n; i++) {
    counter.inc({ i: String(i) }, i + 1);
    histogram.observe({ i: String(i) }, i / 100);
  }
  const store = openStore({ dir, flushIntervalMs: 3_600_000, logger: quiet });
  store.attach(registry);
  expect(store.flush()).toBe(true);
  return { registry, counter, histogram, store };
}

describe('a scrape after a change', () => {
  it.each(FORMATS)(
    '%s: renders again the chunk of the series that changed, and equals a full render',
    async (format) => {
      const { dir } = tempDir();
      const w = writerWith(dir, 300); // 600 series rows: blocks of both metrics, several chunks each
      const reader = openStore({ dir, logger: quiet });
      try {
        let first = await scrapeFresh(reader, dir, format);
        expect(first.parts.chunks.length).toBeGreaterThan(2);
        expect(first.parts.chunks.map((c) => c.text).join('')).toBe(first.parts.stored);
        // The bytes a server sends are the body's UTF-8, chunk by chunk (a label beyond ASCII included).
        w.counter.inc({ i: 'café 日本 🙂' }, 7);
        expect(w.store.flush()).toBe(true);
        const utf8 = await scrapeFresh(reader, dir, format);
        const bytes = Buffer.concat(utf8.parts.chunks.flatMap((c) => [...c.bytes]));
        expect(bytes.equals(Buffer.from(utf8.parts.stored, 'utf8'))).toBe(true);
        expect(bytes.includes(Buffer.from('i="café 日本 🙂"', 'utf8'))).toBe(true);
        expect(utf8.body).toBe(utf8.parts.stored + utf8.parts.tail);
        first = utf8;

        w.counter.inc({ i: '150' }, 1000);
        expect(w.store.flush()).toBe(true);
        const counted = await scrapeFresh(reader, dir, format);
        expect(sampleValue(parseExposition(counted.body, format === 'openmetrics'), 'jobs_total', { i: '150' })).toBe(
          1151,
        );
        expect(newChunks(first, counted)).toHaveLength(1);

        w.histogram.observe({ i: '299' }, 0.5);
        expect(w.store.flush()).toBe(true);
        const observed = await scrapeFresh(reader, dir, format);
        expect(newChunks(counted, observed)).toHaveLength(1);

        // New series, and a new metric: rows in blocks no scrape rendered yet.
        w.counter.inc({ i: 'new' });
        new Gauge({ name: 'depth', help: 'Depth.', registers: [w.registry] }).set(3);
        expect(w.store.flush()).toBe(true);
        const added = await scrapeFresh(reader, dir, format);
        expect(added.body).toContain('jobs_total{i="new"}');
        expect(added.body).toContain('depth 3');

        // Nothing changed: the same chunks, nothing rendered.
        const again = await scrapeFresh(reader, dir, format);
        expect(again.parts.version).toBe(added.parts.version);
        expect(newChunks(added, again)).toHaveLength(0);
      } finally {
        w.store.close();
        reader.close();
      }
    },
  );

  it('follows gauges through writers dying and being folded, by mode', async () => {
    const { dir } = tempDir();
    const script = [
      { op: 'define', kind: 'gauge', config: { name: 'g_liveall', help: 'x', multiprocessMode: 'liveall' } },
      { op: 'define', kind: 'gauge', config: { name: 'g_livesum', help: 'x', multiprocessMode: 'livesum' } },
      { op: 'define', kind: 'gauge', config: { name: 'g_sum', help: 'x', multiprocessMode: 'sum' } },
      { op: 'define', kind: 'gauge', config: { name: 'g_all', help: 'x', multiprocessMode: 'all' } },
      { op: 'set', name: 'g_liveall', value: 1 },
      { op: 'set', name: 'g_livesum', value: 2 },
      { op: 'set', name: 'g_sum', value: 3 },
      { op: 'set', name: 'g_all', value: 4 },
      { op: 'flush' },
    ];
    const a = await startWorker({ dir, script });
    const b = await startWorker({ dir, script });
    const w = writerWith(dir, 100);
    const reader = openStore({ dir, logger: quiet });
    try {
      for (const format of FORMATS) {
        const before = await scrapeFresh(reader, dir, format);
        expect(sampleValue(parseExposition(before.body, format === 'openmetrics'), 'g_livesum', {})).toBe(4);
      }
      await killHard(b);
      // No row changed, but another set of writers is alive: the live modes change.
      const dead = await scrapeFresh(reader, dir, 'openmetrics');
      expect(sampleValue(parseExposition(dead.body, true), 'g_livesum', {})).toBe(2);
      await a.call('set', { name: 'g_sum', value: 10 });
      expect(await a.call('flush')).toBe(true);
      expect(
        sampleValue(parseExposition((await scrapeFresh(reader, dir, 'openmetrics')).body, true), 'g_sum', {}),
      ).toBe(13);
      // The dead writer is folded (as 60 s later): its sum gauge goes into the retired value, its rows go.
      const db = new Database(join(dir, DB));
      try {
        expect(collectGarbage(db, prepareStatements(db), Date.now() + 120_000)).toBe(1);
      } finally {
        db.close();
      }
      const folded = await scrapeFresh(reader, dir, 'openmetrics');
      expect(sampleValue(parseExposition(folded.body, true), 'g_sum', {})).toBe(13);
      expect(folded.body).not.toContain(`pid="${b.pid}"`);
      await a.call('remove', { name: 'g_all', labels: {} });
      expect(await a.call('flush')).toBe(true);
      expect((await scrapeFresh(reader, dir, 'openmetrics')).body).not.toContain('g_all');
    } finally {
      w.store.close();
      reader.close();
    }
  });

  it('follows exemplars (OpenMetrics), overflow series and conflicting definitions', async () => {
    const { dir } = tempDir();
    const registry = new Registry();
    // prom-client records exemplars only for an OpenMetrics registry (its types tie the two together).
    (registry as unknown as { setContentType(t: string): void }).setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    const traced = new Counter({
      name: 'traced_total',
      help: 'Traced.',
      labelNames: ['i'],
      enableExemplars: true,
      registers: [registry],
    });
    const bounded = new Counter({
      name: 'bounded_total',
      help: 'Bounded.',
      labelNames: ['user'],
      maxSeries: 3,
      registers: [registry],
    } as ConstructorParameters<typeof Counter>[0]);
    const trace = (i: string, id: string) =>
      (traced.inc as unknown as (data: object) => void)({ labels: { i }, value: 1, exemplarLabels: { trace_id: id } });
    for (let i = 0; i < 100; i++) trace(String(i), 'a');
    bounded.inc({ user: 'u1' });
    const store = openStore({ dir, flushIntervalMs: 3_600_000, logger: quiet });
    store.attach(registry);
    expect(store.flush()).toBe(true);
    const reader = openStore({ dir, logger: quiet });
    try {
      const first = await scrapeFresh(reader, dir, 'openmetrics');
      trace('42', 'b');
      expect(store.flush()).toBe(true);
      const traceB = await scrapeFresh(reader, dir, 'openmetrics');
      expect(traceB.body).toContain('traced_total{i="42"} 2 # {trace_id="b"}');
      expect(newChunks(first, traceB)).toHaveLength(1);

      for (const user of ['u2', 'u3', 'u4', 'u5']) bounded.inc({ user });
      expect(store.flush()).toBe(true);
      expect((await scrapeFresh(reader, dir, 'openmetrics')).body).toContain('bounded_total{kci_overflow="true"} 3');
      bounded.inc({ user: 'u9' }, 5);
      expect(store.flush()).toBe(true);
      expect((await scrapeFresh(reader, dir, 'openmetrics')).body).toContain('bounded_total{kci_overflow="true"} 8');

      const other = await startWorker({
        dir,
        script: [
          { op: 'define', kind: 'gauge', config: { name: 'traced_total', help: 'Not a counter.' } },
          { op: 'set', name: 'traced_total', value: 1 },
          { op: 'flush' },
        ],
      });
      const conflict = await scrapeFresh(reader, dir, 'openmetrics');
      expect(conflict.health.conflicts.map((c) => c.metric)).toEqual(['traced_total']);
      await killHard(other);
      await scrapeFresh(reader, dir, 'openmetrics');
    } finally {
      store.close();
      reader.close();
    }
  });

  it.each(FORMATS)(
    '%s: renders every series of more blocks than one read takes, across gaps in the ids',
    async (format) => {
      const { dir } = tempDir();
      const n = 1500; // 3000 series rows: about 47 blocks of 64 ids, read and rendered 16 blocks at a time
      const w = writerWith(dir, n);
      const reader = openStore({ dir, logger: quiet });
      const om = format === 'openmetrics';
      const expectAll = (body: string, changed: Map<number, number>) => {
        const exp = parseExposition(body, om);
        for (let i = 0; i < n; i++) {
          const labels = { i: String(i) };
          if (!gone.has(i)) expect(sampleValue(exp, 'jobs_total', labels)).toBe(i + 1 + (changed.get(i) ?? 0));
          else expect(sampleValue(exp, 'jobs_total', labels)).toBeUndefined();
          expect(sampleValue(exp, 'job_seconds_count', labels)).toBe(1);
        }
      };
      const gone = new Set<number>();
      try {
        expectAll((await scrapeFresh(reader, dir, format)).body, new Map());
        // Series on both sides of a read's boundary (ids 1024, 1025: counter series 1023, 1024), and far apart.
        const changed = new Map([
          [0, 5],
          [1023, 7],
          [1024, 11],
          [1499, 13],
        ]);
        for (const [i, by] of changed) w.counter.inc({ i: String(i) }, by);
        expect(w.store.flush()).toBe(true);
        expectAll((await scrapeFresh(reader, dir, format)).body, changed);
        // A gap of more than one read in the ids (rows deleted as a replaced definition's are): a full
        // render starts again at the next row that exists.
        w.store.close();
        const db = new Database(join(dir, DB));
        try {
          db.prepare('DELETE FROM series WHERE id >= 100 AND id < 1300').run();
          db.exec(`INSERT INTO stamps (block, stamp) VALUES (${ALL_BLOCKS}, 1)
            ON CONFLICT (block) DO UPDATE SET stamp = stamp + 1`);
        } finally {
          db.close();
        }
        for (let i = 99; i < 1299; i++) gone.add(i); // counter series i is row i + 1
        expectAll((await scrapeFresh(reader, dir, format)).body, changed);
      } finally {
        reader.close();
      }
    },
  );

  it('renders everything again after a writer that does not stamp (an older version) wrote', async () => {
    const { dir } = tempDir();
    const w = writerWith(dir, 200);
    const reader = openStore({ dir, logger: quiet });
    try {
      await scrapeFresh(reader, dir, 'prometheus');
      // What an older store version's flush does: it registers (or touches) its writer row, which has no
      // `stamps` column of its own, and adds to a series, stamping nothing.
      const db = new Database(join(dir, DB));
      try {
        db.transaction(() => {
          // A live writer of another host (no fold, no state change the scrape could notice otherwise).
          db.prepare(
            `INSERT INTO writers (pid, host, boot_id, start_ticks, started_at, heartbeat_at, interval_ms)
             VALUES (1, 'elsewhere', 'x', '1', ?, ?, 1000)`,
          ).run(Date.now(), Date.now());
          db.prepare(`UPDATE series SET value = value + 1000 WHERE labels = 'i="7"'`).run();
        })();
      } finally {
        db.close();
      }
      const after = await scrapeFresh(reader, dir, 'prometheus');
      expect(sampleValue(parseExposition(after.body), 'jobs_total', { i: '7' })).toBe(1008);
    } finally {
      w.store.close();
      reader.close();
    }
  });

  it('renders everything again when the store is cleared, replaced or a definition replaced', async () => {
    const { dir } = tempDir();
    const w = writerWith(dir, 100);
    const reader = openStore({ dir, logger: quiet });
    try {
      await scrapeFresh(reader, dir, 'prometheus');
      w.store.close();
      openStore({ dir, fresh: true, logger: quiet }).close();
      expect(await scrapeFresh(reader, dir, 'prometheus')).toMatchObject({ body: '' });

      // The same series ids again, with other values: nothing of the first rendering may come back.
      const again = writerWith(dir, 100);
      again.counter.inc({ i: '3' }, 7);
      expect(again.store.flush()).toBe(true);
      const refilled = await scrapeFresh(reader, dir, 'prometheus');
      expect(sampleValue(parseExposition(refilled.body), 'jobs_total', { i: '3' })).toBe(11);
      again.store.close();

      // The definition changes while no live process holds the old one: its series start over.
      const registry = new Registry();
      new Counter({ name: 'jobs_total', help: 'Jobs.', labelNames: ['queue'], registers: [registry] }).inc(
        { queue: 'q' },
        2,
      );
      const redefined = openStore({ dir, flushIntervalMs: 3_600_000, logger: quiet });
      redefined.attach(registry);
      expect(redefined.flush()).toBe(true);
      const replaced = await scrapeFresh(reader, dir, 'prometheus');
      expect(replaced.body).toContain('jobs_total{queue="q"} 2');
      expect(replaced.body).not.toContain('jobs_total{i=');
      redefined.close();

      // The files deleted: another database (another connection generation).
      for (const suffix of ['', '-wal', '-shm']) rmSync(join(dir, DB + suffix), { force: true });
      const other = writerWith(dir, 10);
      expect((await scrapeFresh(reader, dir, 'prometheus')).body).toContain('jobs_total{i="9"} 10');
      other.store.close();
    } finally {
      reader.close();
    }
  });

  it('stamps the blocks a fold of the delta log changed, once per fold, also in a database made before the stamps', async () => {
    const { dir } = tempDir();
    const w = writerWith(dir, 200);
    w.store.close();
    const db = new Database(join(dir, DB));
    try {
      const stamps = () => new Map(db.prepare('SELECT block, stamp FROM stamps').raw().all() as [number, number][]);
      const before = stamps();
      expect(before.get(0)).toBe(1); // counter ids 1-63: one stamp for the first flush, however many rows
      // A database of before the stamps: no table, no column, no triggers. A store that opens it adds them.
      db.exec(`DROP TABLE stamps; DROP TRIGGER stamps_writer_added; DROP TRIGGER stamps_writer_touched;
        DROP TRIGGER stamps_writer_folded; DROP TRIGGER stamps_metric_dropped; ALTER TABLE writers DROP COLUMN stamps`);
      const reopened = writerWith(dir, 200);
      reopened.counter.inc({ i: '0' });
      expect(reopened.store.flush()).toBe(true); // its first: it adds to the rows it resolves itself
      expect(stamps().get(0)).toBe(1);
      reopened.counter.inc({ i: '0' });
      reopened.counter.inc({ i: '1' });
      expect(reopened.store.flush()).toBe(true);
      expect(stamps().get(0)).toBe(1); // this one wrote to the delta log: no series row changed yet
      foldNow(dir); // as a scrape does after answering
      const after = stamps();
      expect(after.get(0)).toBe(2); // once for the fold, however many rows of the block it changed
      expect(after.get(ALL_BLOCKS)).toBeUndefined();
      expect(db.prepare('SELECT stamps FROM writers WHERE dead_at IS NULL').pluck().all()).toEqual([1]);
      reopened.store.close();
    } finally {
      db.close();
    }
  });
});
