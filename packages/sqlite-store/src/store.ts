import { join, resolve } from 'node:path';
import type Database from 'better-sqlite3';
import type { Registry } from 'prom-client';
import { BlockRenderer } from './blocks.js';
import { CardinalityBound, MAX_SERIES_CEILING } from './cardinality.js';
import { Connection } from './connection.js';
import { FOLD_SERIES, foldLog } from './delta-log.js';
import { errorText, prepareDir } from './dir.js';
import { envFlushIntervalMs, envMaxSeries, envMultiprocDir, MAX_FLUSH_MS, MIN_FLUSH_MS } from './env.js';
import { ConfigError, StoreError } from './errors.js';
import { collectGarbage, type Liveness } from './gc.js';
import { currentIdentity, heartbeatEveryMs } from './identity.js';
import { consoleLogger, OnceLog } from './log.js';
import { renderExtraFamilies, validateExtraFamilies } from './render-extra.js';
import { clearDatabase } from './schema.js';
import { scrapeOf } from './scrape-result.js';
import { healthOf, readSnapshot } from './snapshot.js';
import { stampingOf } from './stamps.js';
import type { Statements } from './statements.js';
import type {
  ExpositionFormat,
  FlushOptions,
  MetricsOptions,
  MetricsStore,
  Scrape,
  ScrapeChunk,
  ScrapeOptions,
  StoreHealth,
  StoreOptions,
} from './types.js';
import { type FlushNotice, Writer } from './writer.js';

export const DB_FILE = 'kci-metrics.sqlite';

/** A periodic flush waits this long for the write lock, then gives up until the next interval. */
const FLUSH_BUSY_MS = 50;
/** The final flush at exit may wait longer: it is the last chance to write. */
const EXIT_BUSY_MS = 2000;
/** Scrapes only wait for a checkpoint or a rare exclusive lock. */
const READ_BUSY_MS = 1000;
/** A flush that found the database locked this many times in a row is a failure (logged, counted). */
const BUSY_STREAK = 3;
/** A scrape waits this long for the write lock to fold dead writers, then leaves it for the next scrape. */
const GC_BUSY_MS = 20;
/**
 * A scrape's fold starts this long after it at least, and twice as long as the scrape's read took: a fold
 * blocks the event loop for its chunk (tens of ms), and the scrape's answer is still being compressed and
 * sent meanwhile (an immediate fold cost 100 ms of latency at S=10000; at S=100000 with every series
 * changed, a fold 100 ms after the read fell among the 0.2-0.3 s of compression and added its 0.4-0.6 s).
 */
const FOLD_AFTER_SCRAPE_MS = 100;
/** Between two chunks of a fold, the event loop is left free this long. */
const FOLD_PAUSE_MS = 20;
/** A fold of the delta log waits this long for the write lock (flushes hold it for a few ms). */
const FOLD_BUSY_MS = 250;
/** Writers fold dead processes themselves every this many flushes, so storage stays bounded without an aggregator. */
const GC_EVERY_FLUSHES = 30;
const SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;

/**
 * Open the cross-process store in `dir` (default `PROMETHEUS_MULTIPROC_DIR`).
 *
 * Throws a ConfigError for invalid options and a StoreError (`STORE_UNSAFE_DIR`) for a directory that is
 * not safely ours; I/O failures never throw from here or from flushes: they are logged once and retried.
 *
 * @example
 * const store = openStore({ dir: '/tmp/prometheus_multiproc_dir' });
 * store.attach(registry);          // worker: persisted every second and at exit
 * const text = await store.metrics(); // aggregator: merged over every process
 */
export function openStore(options: StoreOptions = {}): MetricsStore {
  const opts = validate(options);
  // An unsafe directory is refused here, at start-up. One that cannot be created yet (a read-only parent,
  // a volume not mounted yet) is an I/O failure like any other: retried, with its checks, at every use.
  let dir: string;
  try {
    dir = prepareDir(opts.dir);
  } catch (err) {
    if (!(err instanceof StoreError) || err.code !== 'STORE_OPEN_FAILED') throw err;
    dir = opts.dir;
  }
  const path = join(dir, DB_FILE);
  const conn = new Connection(path, () => prepareDir(dir));
  const log = new OnceLog(opts.logger);
  const identity = currentIdentity();
  const writer = new Writer(identity, heartbeatEveryMs(opts.flushIntervalMs), new CardinalityBound(opts.maxSeries));
  let generation = -1;
  let flushes = 0;
  let busyStreak = 0;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  /**
   * The stored families last rendered, by block (blocks.ts), with their format and the key of the state
   * they were rendered from. One format only: a Prometheus server scrapes in one format, and at S=100000
   * a rendering is 140 MB.
   */
  const blocks = new BlockRenderer();
  let rendered: { format: ExpositionFormat; key: string; chunks: ScrapeChunk[]; version: number } | undefined;
  let versions = 0;

  if (opts.fresh) conn.use('STORE_OPEN_FAILED', EXIT_BUSY_MS, (db) => clearDatabase(db));

  /** `ifChanged`: only when there is something to write or the heartbeat is due (the timer's flushes). */
  const flush = (exiting = false, ifChanged = false): boolean => {
    if (closed || writer.registries.length === 0) return !closed;
    // Nothing changed and the heartbeat is not due: no lock, no write (the exit flush always writes). An
    // explicit flush writes anyway, and its check still moves the rolling look at every series (writer.ts).
    let check = 0;
    if (!exiting) {
      const found = writer.checkChanges(Date.now());
      if (ifChanged && !found.changed) return true;
      check = found.check;
    }
    const notices: FlushNotice[] = [];
    try {
      // Once a lock has lasted long enough to count as a failure, periodic attempts stop waiting for it:
      // each wait blocks the application's event loop (a 10 s lock raised p99 latency by the wait).
      const busyWait = exiting ? EXIT_BUSY_MS : busyStreak >= BUSY_STREAK ? 0 : FLUSH_BUSY_MS;
      conn.use('STORE_WRITE_FAILED', busyWait, (db, s) => {
        if (conn.generation !== generation) {
          writer.forgetIds();
          generation = conn.generation;
        }
        const now = Date.now();
        // Ids minted inside a transaction reach the writer's caches only through `commit`, after the
        // transaction committed: a rolled-back flush leaves every cached id valid.
        let commit: (() => void) | undefined;
        let counted: (() => void) | undefined;
        // The flush notes the blocks of series it changes and stamps them in its transaction (stamps.ts).
        const stamping = stampingOf(s);
        stamping.clear();
        db.transaction(() => {
          commit = writer.write(stamping.statements, now, exiting, notices, check);
          counted = writer.bound.finish(stamping.statements, notices);
          stamping.write();
        }).immediate();
        commit?.();
        counted?.();
        try {
          // At the first flush too: short-lived processes must fold their dead predecessors themselves.
          if (++flushes % GC_EVERY_FLUSHES === 1) collectGarbage(db, s, now);
        } catch {
          // Housekeeping (e.g. busy): the values are committed, so this flush succeeded; folding runs again later.
        }
      });
      for (const n of notices) {
        log.once(`notice:${n.metric}:${n.message}`, n.text ?? `metric ${n.metric} not stored: ${n.message}`);
      }
      busyStreak = 0;
      log.success(`metrics store ${path} writable again; pending values written`);
      return true;
    } catch (err) {
      const code = (err as StoreError).cause ? errorCode((err as StoreError).cause) : 'unknown';
      if (!exiting && (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED')) {
        // Workers started together contend for the lock at their first flushes: a lock that is free again
        // at the next attempts is contention, not a failure. From the BUSY_STREAK-th attempt in a row it
        // is one, and every attempt of the streak counts.
        if (++busyStreak < BUSY_STREAK) return false;
        writer.failedFlushes += busyStreak === BUSY_STREAK ? BUSY_STREAK : 1;
      } else {
        writer.failedFlushes++;
      }
      log.failure(
        `flush:${code}`,
        `cannot write metrics store ${path} (${errorText((err as StoreError).cause ?? err)}); values are kept in memory and written when it works again`,
      );
      return false;
    }
  };

  const onExit = () => {
    flush(true);
    conn.close();
  };
  const onSignal = (signal: NodeJS.Signals) => {
    // Only when nobody else handles the signal: flush, then let it terminate the process as it would have.
    if (process.listenerCount(signal) > 1) return;
    flush(true);
    detachProcessHooks();
    process.kill(process.pid, signal);
  };
  const detachProcessHooks = () => {
    process.removeListener('exit', onExit);
    for (const sig of SIGNALS) process.removeListener(sig, onSignal);
  };

  /**
   * A store that scrapes folds the delta log (delta-log.ts): once a scrape that showed rows of it is
   * answered and sent, and, from its first scrape on, whenever rows of it are older than two flush intervals
   * (no scrape folded them: Prometheus scrapes every 15 s or more). "Answered and sent" is a guess: no fold
   * starts within max(FOLD_AFTER_SCRAPE_MS, twice the scrape's read) of a scrape, the time an aggregator
   * takes to compress and send the answer (a fold in progress goes on after it).
   * It folds the rows of FOLD_SERIES series per transaction, FOLD_PAUSE_MS apart: a scrape that comes in
   * while a fold runs waits for the chunk in progress only (the event loop is the same). A chunk of rows the
   * last rendering showed leaves the blocks it rendered their rendering (adoptFold): the next scrape reads
   * and renders nothing again. A fold that fails or finds the lock held for FOLD_BUSY_MS is left to the next
   * one; scrapes show the log meanwhile.
   */
  let shownUpTo = 0;
  /** Until then (performance.now()), the interval's folds wait: a scrape's answer is being compressed and sent. */
  let quietUntil = 0;
  let foldTimer: NodeJS.Timeout | undefined;
  let foldInterval: NodeJS.Timeout | undefined;
  const fold = (olderThanMs = 0) => {
    if (closed) return;
    const wait = quietUntil - performance.now();
    if (wait > 0) {
      // A scrape came in meanwhile: a fold in progress goes on once its answer is out; the interval's waits.
      if (olderThanMs === 0) foldNext(wait);
      return;
    }
    let more = false;
    try {
      conn.use('STORE_WRITE_FAILED', FOLD_BUSY_MS, (db, s) => {
        const oldest = s.oldestDelta.get() as number | null;
        if (oldest === null || Date.now() - oldest < olderThanMs) return;
        const { last, before } = foldLog(db, s, FOLD_SERIES);
        // Rows up to shownUpTo were all shown by the last rendering of the blocks they change (ids only grow).
        if (before && last <= shownUpTo) blocks.adoptFold(conn.generation, before);
        more = s.lastDelta.get() !== null;
      });
    } catch {
      // the next fold takes it up; scrapes show the log meanwhile
    }
    // The next chunk a little later: writers waiting for the lock get it in between, and a scrape that
    // comes in is read and answered before it (the first turn of the loop only accepts its connection).
    if (more) foldNext(FOLD_PAUSE_MS);
  };
  const foldNext = (delayMs = 0) => {
    if (foldTimer) return;
    foldTimer = setTimeout(() => {
      foldTimer = undefined;
      fold();
    }, delayMs).unref();
  };
  const foldSoon = (upTo: number | undefined, readMs: number) => {
    foldInterval ??= setInterval(() => fold(2 * opts.flushIntervalMs), opts.flushIntervalMs).unref();
    const quietMs = Math.max(FOLD_AFTER_SCRAPE_MS, 2 * readMs);
    quietUntil = performance.now() + quietMs;
    if (upTo === undefined) return;
    shownUpTo = Math.max(shownUpTo, upTo);
    foldNext(quietMs);
  };

  const read = <T>(fn: (db: Database.Database, s: Statements) => T): T => {
    if (closed) throw new StoreError('STORE_CLOSED', `Metrics store ${path} is closed`, { path });
    return conn.use('STORE_READ_FAILED', READ_BUSY_MS, fn);
  };

  /** One read of the store: GC first (its own short write), then the rows and the health of one snapshot. */
  const scrape = (format: unknown = 'prometheus', extra: NonNullable<ScrapeOptions['extraFamilies']>): Scrape => {
    if (format !== 'prometheus' && format !== 'openmetrics') {
      throw new ConfigError('format', format, '"prometheus" or "openmetrics"');
    }
    const openMetrics = format === 'openmetrics';
    const startedAt = performance.now();
    const last = rendered?.format === format ? rendered : undefined;
    const {
      snapshot,
      health: rows,
      key,
      now,
    } = read((db, s) => {
      const now = Date.now();
      const liveness: Liveness = new Map(); // each writer's process looked at once per scrape
      // Folding is housekeeping: it waits briefly for the write lock, and a busy database must
      // neither fail nor stall the scrape (it is retried at the next one).
      conn.setBusyTimeout(GC_BUSY_MS);
      try {
        collectGarbage(db, s, now, undefined, liveness);
      } catch {
        // retried at the next scrape
      } finally {
        conn.setBusyTimeout(READ_BUSY_MS);
      }
      // A connection of another generation is another file: nothing rendered before holds for it.
      const generation = conn.generation;
      const read = readSnapshot(
        db,
        s,
        now,
        (key, writers) =>
          last?.key === `${generation}:${key}` ? undefined : blocks.read(s, format, generation, writers),
        liveness,
      );
      return { ...read, key: `${generation}:${read.key}`, now };
    });
    const health = healthOf(path, rows, now);
    let stored = last;
    if (snapshot) {
      const { chunks, changed } = blocks.render(snapshot);
      stored = { format, key, chunks, version: changed || !last ? ++versions : last.version };
      rendered = stored;
      foldSoon(snapshot.logUpTo, performance.now() - startedAt);
    }
    const { version, chunks } = stored as NonNullable<typeof stored>;
    // After the stored families are rendered: a scrape duration among the extras covers them.
    const families = typeof extra === 'function' ? validateExtraFamilies(extra(health)) : extra;
    const tail = renderExtraFamilies(families, openMetrics) + (openMetrics ? '# EOF\n' : '');
    return scrapeOf(format, version, chunks, tail, health);
  };

  return {
    path,
    attach(registry: Registry) {
      if (closed) throw new StoreError('STORE_CLOSED', `Metrics store ${path} is closed`, { path });
      if (writer.registries.includes(registry)) return;
      writer.attach(registry);
      if (timer) return;
      // Metrics whose prom-client internals this store cannot read are read through prom-client's async
      // public API first (prom-internals.ts); the flush itself stays synchronous.
      const tick = () => {
        if (!writer.needsRefresh()) flush(false, true);
        else
          writer.refresh().then(
            () => flush(false, true),
            () => flush(false, true),
          );
      };
      // The first flush comes at a random point of the first interval, so that workers forked together do
      // not all flush at the same instant ever after; a SIGKILL still loses at most one interval.
      timer = setTimeout(() => {
        tick();
        timer = setInterval(tick, opts.flushIntervalMs);
        timer.unref();
      }, Math.random() * opts.flushIntervalMs);
      timer.unref();
      process.on('exit', onExit);
      for (const sig of SIGNALS) process.on(sig, onSignal);
    },
    flush(flushOptions?: FlushOptions) {
      if (flushOptions !== undefined && (flushOptions === null || typeof flushOptions !== 'object'))
        throw new ConfigError('flush options', flushOptions, 'an object { ifChanged? }');
      const ifChanged = flushOptions?.ifChanged;
      if (ifChanged !== undefined && typeof ifChanged !== 'boolean')
        throw new ConfigError('flush option ifChanged', ifChanged, 'true or false');
      return flush(false, ifChanged ?? false);
    },
    metrics(metricsOptions: MetricsOptions = {}) {
      try {
        return Promise.resolve(scrape(metricsOptions.format, []).body);
      } catch (err) {
        return Promise.reject(err);
      }
    },
    scrape(scrapeOptions: ScrapeOptions = {}) {
      try {
        if (scrapeOptions === null || typeof scrapeOptions !== 'object') {
          throw new ConfigError('scrape options', scrapeOptions, 'an object { format?, extraFamilies? }');
        }
        const { extraFamilies } = scrapeOptions;
        if (extraFamilies !== undefined && typeof extraFamilies !== 'function') validateExtraFamilies(extraFamilies);
        return Promise.resolve(scrape(scrapeOptions.format, extraFamilies ?? []));
      } catch (err) {
        return Promise.reject(err);
      }
    },
    health(): StoreHealth {
      return read((db, s) => {
        const now = Date.now();
        return healthOf(path, readSnapshot(db, s, now, () => undefined).health, now);
      });
    },
    close() {
      if (closed) return;
      if (foldTimer) clearTimeout(foldTimer);
      if (foldInterval) clearInterval(foldInterval);
      if (timer) {
        clearTimeout(timer); // clears the first timeout and the interval alike
        flush(true);
      }
      closed = true;
      detachProcessHooks();
      conn.close();
    },
  };
}

interface Resolved {
  dir: string;
  flushIntervalMs: number;
  fresh: boolean;
  logger: NonNullable<StoreOptions['logger']>;
  maxSeries: number;
}

function validate(options: StoreOptions): Resolved {
  if (options === null || typeof options !== 'object') throw new ConfigError('options', options, 'an object');
  const known = ['dir', 'flushIntervalMs', 'fresh', 'logger', 'maxSeries'];
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) throw new ConfigError('option', key, `one of ${known.join(', ')}`);
  }
  const { dir, flushIntervalMs, fresh, logger, maxSeries } = options;
  if (dir !== undefined && (typeof dir !== 'string' || dir.trim() === '' || dir.includes('\0'))) {
    throw new ConfigError('option dir', dir, 'a directory path');
  }
  const interval = flushIntervalMs ?? envFlushIntervalMs(process.env);
  if (!Number.isInteger(interval) || interval < MIN_FLUSH_MS || interval > MAX_FLUSH_MS) {
    throw new ConfigError('option flushIntervalMs', flushIntervalMs, 'an integer number of milliseconds, 10-3600000');
  }
  const bound = maxSeries ?? envMaxSeries(process.env);
  if (!Number.isInteger(bound) || bound < 1 || bound > MAX_SERIES_CEILING) {
    throw new ConfigError('option maxSeries', maxSeries, `an integer 1-${MAX_SERIES_CEILING} (series per metric)`);
  }
  if (fresh !== undefined && typeof fresh !== 'boolean') throw new ConfigError('option fresh', fresh, 'true or false');
  if (logger !== undefined && (logger === null || typeof logger.warn !== 'function')) {
    throw new ConfigError('option logger', logger, 'an object with a warn(message) method');
  }
  return {
    dir: dir === undefined ? envMultiprocDir(process.env) : resolve(dir),
    flushIntervalMs: interval,
    fresh: fresh ?? false,
    logger: logger ?? consoleLogger,
    maxSeries: bound,
  };
}

function errorCode(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : err instanceof Error ? err.message : String(err);
}
