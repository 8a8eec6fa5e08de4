// Issue 17: a flush costs what changed since the last one. The store hears of prom-client's changes
// (change-log.ts), so an idle worker takes no lock and writes nothing but a heartbeat every 10 intervals
// (at most 10 s), and every way prom-client records a value is still written by the next flush.
import { statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { Counter, Gauge, Histogram, Registry, Summary } from 'prom-client';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type MetricsStore, openStore } from './index.js';
import { captureLogger, killAll, removeTempDirs, startFixture, tempDir } from './test-support/children.js';
import { parseExposition, sampleValue } from './test-support/exposition.js';

afterEach(killAll);
afterAll(removeTempDirs);

const quiet = { warn() {} };

async function value(store: MetricsStore, name: string, labels: Record<string, string> = {}) {
  return sampleValue(parseExposition(await store.metrics()), name, labels);
}

/** Date.now() under the test's control: the store reads it for its heartbeat and its rolling look. */
function virtualClock() {
  const realNow = Date.now;
  let now = realNow();
  Date.now = () => now;
  return {
    advance(ms: number) {
      now += ms;
    },
    restore() {
      Date.now = realNow;
    },
  };
}

function walBytes(store: MetricsStore): number {
  try {
    return statSync(`${store.path}-wal`).size;
  } catch {
    return 0;
  }
}

/**
 * For the rolling look's tests: a counter `name` of 600 series (k = 0..599, 1 each) in a store flushed
 * once; `replaceLast()` replaces the 600th series' entry behind prom-client (value 50), and
 * `secondsUntilWritten(reader, flushOneSecond)` flushes a second at a time until `reader` sees it written,
 * returning the seconds it took.
 */
function sixHundredSeries(name: string) {
  const registry = new Registry();
  const counter = new Counter({ name, help: 'r', labelNames: ['k'], registers: [registry] });
  for (let k = 0; k < 600; k++) counter.inc({ k }, 1);
  const log = captureLogger();
  const { dir } = tempDir();
  const store = openStore({ dir, flushIntervalMs: 3_600_000, logger: log.logger });
  store.attach(registry);
  expect(store.flush()).toBe(true);
  const replaceLast = () => {
    const map = (counter as unknown as { hashMap: Record<string, { value: number; labels: object }> }).hashMap;
    map['k:599,'] = { value: 50, labels: { k: 599 } };
  };
  const secondsUntilWritten = async (reader: MetricsStore, flushOneSecond: () => void) => {
    let seconds = 0;
    while ((await value(reader, name, { k: '599' })) === 1) {
      expect(seconds).toBeLessThan(61);
      flushOneSecond();
      seconds++;
    }
    return seconds;
  };
  return { counter, log, dir, store, replaceLast, secondsUntilWritten };
}

describe('a flush with nothing changed', () => {
  it('takes no lock: another process holding the write lock does not make idle flushes fail', async () => {
    const registry = new Registry();
    const c = new Counter({ name: 'jobs_total', help: 'Jobs', labelNames: ['q'], registers: [registry] });
    for (let i = 0; i < 500; i++) c.inc({ q: `q${i}` });
    const log = captureLogger();
    const store = openStore({ dir: tempDir().dir, flushIntervalMs: 3_600_000, logger: log.logger });
    store.attach(registry);
    expect(store.flush()).toBe(true);
    const locker = await startFixture('locker.mjs', [store.path]);
    try {
      for (let i = 0; i < 10; i++) expect(store.flush({ ifChanged: true })).toBe(true);
      expect(log.warnings).toEqual([]);
      // A change does need the lock: that flush waits, fails, and keeps the value for later.
      c.inc({ q: 'q7' }, 5);
      expect(store.flush({ ifChanged: true })).toBe(false);
      // A plain flush() always writes (the heartbeat at least): it finds the lock too.
      expect(store.flush()).toBe(false);
    } finally {
      await locker.call('release');
    }
    expect(store.flush({ ifChanged: true })).toBe(true);
    expect(await value(store, 'jobs_total', { q: 'q7' })).toBe(6);
    expect(store.health()).toMatchObject({ flushFailures: 0, liveWriters: 1 });
    store.close();
  });

  it('writes only the heartbeat, once per 10 intervals: an idle worker barely grows the WAL', async () => {
    const registry = new Registry();
    const c = new Counter({ name: 'idle_total', help: 'x', labelNames: ['k'], registers: [registry] });
    const h = new Histogram({ name: 'idle_seconds', help: 'x', labelNames: ['k'], registers: [registry] });
    for (let i = 0; i < 200; i++) {
      c.inc({ k: String(i) });
      h.observe({ k: String(i) }, i / 100);
    }
    // 20 ms flushes: the heartbeat is due every 200 ms, so about 5 writes a second where there were 50.
    const store = openStore({ dir: tempDir().dir, flushIntervalMs: 20, logger: quiet });
    store.attach(registry);
    expect(store.flush()).toBe(true);
    const reader = new Database(store.path, { readonly: true });
    const heartbeat = () =>
      (reader.prepare('SELECT heartbeat_at FROM writers').get() as { heartbeat_at: number }).heartbeat_at;
    try {
      const before = walBytes(store);
      const beats = new Set<number>();
      const start = Date.now();
      while (Date.now() - start < 1000) {
        beats.add(heartbeat());
        await new Promise((r) => setTimeout(r, 5));
      }
      const frames = (walBytes(store) - before) / (4096 + 24);
      // Each commit appends at least one page frame to the WAL; 50 ticks in that second found nothing to write.
      expect(frames).toBeLessThan(20);
      // The heartbeat kept coming, so the writer is neither dead nor stalled.
      expect(beats.size).toBeGreaterThanOrEqual(3);
      expect(beats.size).toBeLessThanOrEqual(8);
      expect(store.health()).toMatchObject({ liveWriters: 1, stalledWriters: 0 });
      // And a change is written by the next tick, without waiting for the heartbeat.
      c.inc({ k: '3' }, 10);
      await new Promise((r) => setTimeout(r, 100));
      expect(await value(store, 'idle_total', { k: '3' })).toBe(11);
    } finally {
      reader.close();
      store.close();
    }
  });
});

describe('every way prom-client records a value is written by the next flush', () => {
  it('existing and new series, labels() children, zero(), reset(), remove() and late registration', async () => {
    const registry = new Registry();
    const c = new Counter({ name: 'c_total', help: 'c', labelNames: ['k'], registers: [registry] });
    const h = new Histogram({
      name: 'h_seconds',
      help: 'h',
      labelNames: ['k'],
      buckets: [1, 2],
      registers: [registry],
    });
    const s = new Summary({ name: 's_seconds', help: 's', registers: [registry] });
    const g = new Gauge({ name: 'g', help: 'g', labelNames: ['k'], registers: [registry] });
    const child = c.labels('child');
    c.inc({ k: 'a' });
    const store = openStore({ dir: tempDir().dir, flushIntervalMs: 3_600_000, logger: quiet });
    store.attach(registry);
    store.flush();
    const steps: Array<[string, () => void, () => Promise<void>]> = [
      [
        'inc of an existing series',
        () => c.inc({ k: 'a' }, 2),
        async () => expect(await value(store, 'c_total', { k: 'a' })).toBe(3),
      ],
      [
        'inc of a new series',
        () => c.inc({ k: 'b' }, 4),
        async () => expect(await value(store, 'c_total', { k: 'b' })).toBe(4),
      ],
      [
        'a labels() child made before attach',
        () => child.inc(7),
        async () => expect(await value(store, 'c_total', { k: 'child' })).toBe(7),
      ],
      [
        'observe, new and existing',
        () => {
          h.observe({ k: 'x' }, 0.5);
          h.observe({ k: 'x' }, 1.5);
        },
        async () => {
          expect(await value(store, 'h_seconds_count', { k: 'x' })).toBe(2);
          expect(await value(store, 'h_seconds_bucket', { k: 'x', le: '1' })).toBe(1);
        },
      ],
      [
        'Histogram.zero() then observe',
        () => {
          h.zero({ k: 'z' });
          h.observe({ k: 'z' }, 3);
        },
        async () => expect(await value(store, 'h_seconds_count', { k: 'z' })).toBe(1),
      ],
      [
        'observe after zero(), the next flush',
        () => h.observe({ k: 'z' }, 3),
        async () => expect(await value(store, 'h_seconds_count', { k: 'z' })).toBe(2),
      ],
      ['summary observe', () => s.observe(2), async () => expect(await value(store, 's_seconds_sum')).toBe(2)],
      [
        'reset() then inc',
        () => {
          c.reset();
          c.inc({ k: 'a' }, 10);
        },
        async () => expect(await value(store, 'c_total', { k: 'a' })).toBe(13),
      ],
      [
        'inc after reset(), the next flush',
        () => c.inc({ k: 'a' }),
        async () => expect(await value(store, 'c_total', { k: 'a' })).toBe(14),
      ],
      [
        'remove() then inc again',
        () => {
          c.remove({ k: 'b' });
          c.inc({ k: 'b' }, 1);
        },
        async () => expect(await value(store, 'c_total', { k: 'b' })).toBe(5),
      ],
      ['gauge set', () => g.set({ k: 'a' }, 42), async () => expect(await value(store, 'g', { k: 'a' })).toBe(42)],
      [
        'a metric registered after the first flush',
        () => {
          new Counter({ name: 'late_total', help: 'l', registers: [registry] }).inc(9);
        },
        async () => expect(await value(store, 'late_total')).toBe(9),
      ],
    ];
    for (const [what, act, check] of steps) {
      act();
      expect(store.flush(), what).toBe(true);
      await check().catch((err: Error) => {
        throw new Error(`${what}: ${err.message}`);
      });
    }
    store.close();
  });

  it('values a collect() callback applies are written by the next flush, after any number of idle ones', async () => {
    // The adapters buffer observations and apply them in the histogram's collect() (core's batched()); the
    // store runs collect() to find out whether anything changed. A skipped flush must not leave that run
    // standing for the next one (CI saw a PM2 instance's requests reach the store seconds late, or not before
    // its next heartbeat).
    const registry = new Registry();
    const pending: number[] = [];
    const h = new Histogram({
      name: 'buffered_seconds',
      help: 'x',
      labelNames: ['route'],
      registers: [registry],
      collect() {
        for (const v of pending.splice(0)) h.observe({ route: '/a' }, v);
      },
    });
    const store = openStore({ dir: tempDir().dir, flushIntervalMs: 3_600_000, logger: quiet });
    store.attach(registry);
    expect(store.flush()).toBe(true);
    let sent = 0;
    for (let round = 0; round < 5; round++) {
      // Idle flushes (nothing buffered), then requests between two flushes.
      for (let i = 0; i < round; i++) expect(store.flush({ ifChanged: true })).toBe(true);
      pending.push(0.01, 0.2);
      sent += 2;
      expect(store.flush({ ifChanged: true })).toBe(true);
      expect(await value(store, 'buffered_seconds_count', { route: '/a' })).toBe(sent);
    }
    store.close();
  });

  it('never replaces an entry inside a map: a cache of entries kept while the map object is the same stays right', async () => {
    // @kci-metrics/core's observers keep prom-client's entries and re-read them only when the hashMap object
    // is replaced (or reset()/remove()/zero() runs). The store once put tracked copies into the map at its
    // first flush, so series recorded before it went on into entries the map no longer held: requests lost
    // (CI: PM2 instances whose first requests came before their first flush).
    const registry = new Registry();
    const h = new Histogram({ name: 'cached_seconds', help: 'x', labelNames: ['route'], registers: [registry] });
    const state = h as unknown as { hashMap: Record<string, { count: number; sum: number }> };
    let cachedMap: object | undefined;
    const cache = new Map<string, { count: number; sum: number }>();
    const observe = (route: string, v: number) => {
      if (state.hashMap !== cachedMap) {
        cachedMap = state.hashMap;
        cache.clear();
      }
      const entry = cache.get(route);
      if (entry === undefined) {
        h.observe({ route }, v);
        const filed = state.hashMap[`route:${route},`];
        if (filed) cache.set(route, filed);
        return;
      }
      entry.count += 1; // as core's addToEntry(): sum, count (buckets left out here)
      entry.sum += v;
    };
    for (let i = 0; i < 3; i++) observe('/before', 0.1); // before the store's first flush
    const store = openStore({ dir: tempDir().dir, flushIntervalMs: 3_600_000, logger: quiet });
    store.attach(registry);
    expect(store.flush()).toBe(true);
    for (let i = 0; i < 4; i++) observe('/before', 0.1);
    for (let i = 0; i < 5; i++) observe('/after', 0.1); // a new series, through the map's trap
    for (let i = 0; i < 6; i++) observe('/after', 0.1);
    expect(store.flush({ ifChanged: true })).toBe(true);
    expect(await value(store, 'cached_seconds_count', { route: '/before' })).toBe(7);
    expect(await value(store, 'cached_seconds_count', { route: '/after' })).toBe(11);
    // prom-client's own view agrees: nothing was recorded into an entry it no longer holds.
    expect(sampleValue(parseExposition(await registry.metrics()), 'cached_seconds_count', { route: '/before' })).toBe(
      7,
    );
    store.close();
  });

  it('an entry replaced behind prom-client is written by the exit flush at the latest, and reported once', async () => {
    const registry = new Registry();
    const c = new Counter({ name: 'hand_total', help: 'h', labelNames: ['k'], registers: [registry] });
    c.inc({ k: 'a' }, 1);
    const log = captureLogger();
    const dir = tempDir().dir;
    const store = openStore({ dir, flushIntervalMs: 3_600_000, logger: log.logger });
    store.attach(registry);
    store.flush();
    // Not something prom-client 15 does: a plain object put in place of the entry, under its key.
    const map = (c as unknown as { hashMap: Record<string, { value: number; labels: object }> }).hashMap;
    map['k:a,'] = { value: 40, labels: { k: 'a' } };
    store.close(); // the exit flush compares every series
    const reader = openStore({ dir, logger: quiet });
    // A new entry object is a reset the store did not see (as before change tracking): 1 + 40.
    expect(await value(reader, 'hand_total', { k: 'a' })).toBe(41);
    reader.close();
    expect(log.warnings.filter((w) => w.includes('was not heard by the store'))).toHaveLength(1);
    expect(log.warnings.join('\n')).toContain('metric hand_total: a change of series {k="a"}');
  });

  it('the rolling look finds an entry replaced among quiet tracked ones, and writes heard changes with it', async () => {
    const clock = virtualClock();
    try {
      const registry = new Registry();
      const c = new Counter({ name: 'quiet_total', help: 'q', labelNames: ['k'], registers: [registry] });
      const h = new Histogram({
        name: 'quiet_seconds',
        help: 'q',
        labelNames: ['k'],
        buckets: [1],
        registers: [registry],
      });
      for (let k = 0; k < 300; k++) {
        c.inc({ k }, 1);
        h.observe({ k }, 0.5);
      }
      const log = captureLogger();
      const dir = tempDir().dir;
      const store = openStore({ dir, flushIntervalMs: 3_600_000, logger: log.logger });
      store.attach(registry);
      expect(store.flush()).toBe(true);
      c.inc({ k: 7 }, 2); // heard by the change log
      h.observe({ k: 7 }, 2);
      expect(store.flush({ ifChanged: true })).toBe(true);
      // Behind prom-client: a plain object in place of one entry. The log cannot hear of it; idle flushes
      // do not write it, the rolling look reaches it within 60 s, and the full comparison it asks for writes it.
      const map = (c as unknown as { hashMap: Record<string, { value: number; labels: object }> }).hashMap;
      map['k:150,'] = { value: 40, labels: { k: 150 } };
      c.inc({ k: 3 }, 5);
      clock.advance(1000);
      expect(store.flush({ ifChanged: true })).toBe(true);
      const reader = openStore({ dir, logger: quiet });
      expect(await value(reader, 'quiet_total', { k: '150' })).toBe(1);
      expect(await value(reader, 'quiet_total', { k: '3' })).toBe(6);
      clock.advance(61_000);
      c.inc({ k: 3 }, 1);
      expect(store.flush({ ifChanged: true })).toBe(true);
      expect(await value(reader, 'quiet_total', { k: '150' })).toBe(41); // a new entry: counted in full
      expect(await value(reader, 'quiet_total', { k: '3' })).toBe(7);
      expect(await value(reader, 'quiet_total', { k: '7' })).toBe(3);
      expect(await value(reader, 'quiet_seconds_count', { k: '7' })).toBe(2);
      expect(await value(reader, 'quiet_seconds_sum', { k: '7' })).toBe(2.5);
      let total = 0;
      for (let k = 0; k < 300; k++) total += (await value(reader, 'quiet_total', { k: String(k) })) ?? Number.NaN;
      expect(total).toBe(300 + 2 + 5 + 1 + 40);
      expect(log.warnings.filter((w) => w.includes('was not heard by the store'))).toHaveLength(1);
      expect(log.warnings.join('\n')).toContain('a change of series {k="150"}');
      // From now on every series of that metric is compared at every flush: a further change is written.
      // (Into the counter's map as it is now: the comparison put a tracked copy of the entry in a new map.)
      const current = (c as unknown as { hashMap: Record<string, { value: number; labels: object }> }).hashMap;
      current['k:150,'] = { value: 1, labels: { k: 150 } };
      clock.advance(1000);
      expect(store.flush({ ifChanged: true })).toBe(true);
      expect(await value(reader, 'quiet_total', { k: '150' })).toBe(42);
      store.close();
      reader.close();
    } finally {
      clock.restore();
    }
  });

  it('looks at every series again within 60 s of 1 s flushes, a share at each, and writes nothing while all is well', async () => {
    const clock = virtualClock();
    try {
      const { counter: c, log, dir, store, replaceLast, secondsUntilWritten } = sixHundredSeries('roll_total');
      const quietSeconds = (n: number) => {
        for (let i = 0; i < n; i++) {
          clock.advance(1000);
          expect(store.flush({ ifChanged: true })).toBe(true);
        }
      };
      // Quiet seconds take no transaction (the WAL does not grow): the look finds every series it
      // reaches vouched for, also right after new series were written (heard by the log).
      const wal = walBytes(store);
      quietSeconds(10);
      expect(walBytes(store)).toBe(wal);
      for (let i = 0; i < 4; i++) c.inc({ k: `new${i}` }, 1);
      quietSeconds(1);
      const written = walBytes(store);
      expect(written).toBeGreaterThan(wal);
      quietSeconds(10);
      expect(walBytes(store)).toBe(written);

      // Behind prom-client: the 600th series' entry replaced. The look walks the keys in order, a share a
      // second, and is about a third of the way through: it reaches it some 40 s later, not at once.
      replaceLast();
      const reader = openStore({ dir, logger: quiet });
      const seconds = await secondsUntilWritten(reader, () => quietSeconds(1));
      expect(seconds).toBeGreaterThan(20);
      // Written by the full comparison the look asked for (a new entry: counted in full), reported once.
      expect(await value(reader, 'roll_total', { k: '599' })).toBe(51);
      expect(log.warnings.filter((w) => w.includes('was not heard by the store'))).toHaveLength(1);
      let total = 0;
      for (let k = 0; k < 600; k++) total += (await value(reader, 'roll_total', { k: String(k) })) ?? Number.NaN;
      expect(total).toBe(600 + 50);
      reader.close();
      store.close();
    } finally {
      clock.restore();
    }
  });

  it('moves the rolling look with explicit flush() calls too (a job that flushes itself, no timer)', async () => {
    const clock = virtualClock();
    try {
      const { log, dir, store, replaceLast, secondsUntilWritten } = sixHundredSeries('own_total');
      replaceLast();
      const reader = openStore({ dir, logger: quiet });
      const seconds = await secondsUntilWritten(reader, () => {
        clock.advance(1000);
        expect(store.flush()).toBe(true);
      });
      // Reached by the look in its turn (the last key), not by every flush comparing everything.
      expect(seconds).toBeGreaterThan(20);
      expect(await value(reader, 'own_total', { k: '599' })).toBe(51);
      expect(log.warnings.filter((w) => w.includes('was not heard by the store'))).toHaveLength(1);
      reader.close();
      store.close();
    } finally {
      clock.restore();
    }
  });

  it('leaves prom-client reading its own values unchanged (registry.metrics(), get(), JSON)', async () => {
    const registry = new Registry();
    const c = new Counter({ name: 'same_total', help: 's', labelNames: ['k'], registers: [registry] });
    const h = new Histogram({ name: 'same_seconds', help: 's', buckets: [1], registers: [registry] });
    c.inc({ k: 'a' }, 2);
    h.observe(0.5);
    const before = await registry.metrics();
    const store = openStore({ dir: tempDir().dir, flushIntervalMs: 3_600_000, logger: quiet });
    store.attach(registry);
    store.flush();
    c.inc({ k: 'a' }, 3);
    c.inc({ k: 'b' }, 1);
    h.observe(0.5);
    store.flush();
    const text = await registry.metrics();
    expect(text).not.toBe(before);
    expect(text).toContain('same_total{k="a"} 5');
    expect(text).toContain('same_total{k="b"} 1');
    expect(text).toContain('same_seconds_count 2');
    expect(JSON.stringify(await registry.getMetricsAsJSON())).toContain('"value":5');
    expect((await c.get()).values.map((v) => v.value).sort()).toEqual([1, 5]);
    store.close();
  });
});
