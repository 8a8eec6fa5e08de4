import { statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type Database from 'better-sqlite3';
import type { Registry } from 'prom-client';
import { Connection } from './connection.js';
import { errorText, prepareDir } from './dir.js';
import { envFlushIntervalMs, envMultiprocDir, MAX_FLUSH_MS, MIN_FLUSH_MS } from './env.js';
import { ConfigError, StoreError } from './errors.js';
import { collectGarbage, viewWriters } from './gc.js';
import { currentIdentity } from './identity.js';
import { consoleLogger, OnceLog } from './log.js';
import { render } from './render.js';
import type { Statements } from './statements.js';
import { clearDatabase } from './schema.js';
import type { MetricsOptions, MetricsStore, StoreHealth, StoreOptions } from './types.js';
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
  const writer = new Writer(identity, opts.flushIntervalMs);
  let generation = -1;
  let flushes = 0;
  let busyStreak = 0;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  if (opts.fresh) conn.use('STORE_OPEN_FAILED', EXIT_BUSY_MS, (db) => clearDatabase(db));

  const flush = (exiting = false): boolean => {
    if (closed || writer.registries.length === 0) return !closed;
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
        db.transaction(() => {
          commit = writer.write(s, now, exiting, notices);
        }).immediate();
        commit?.();
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

  const read = <T>(fn: (db: Database.Database, s: Statements) => T): T => {
    if (closed) throw new StoreError('STORE_CLOSED', `Metrics store ${path} is closed`, { path });
    return conn.use('STORE_READ_FAILED', READ_BUSY_MS, fn);
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
        if (!writer.needsRefresh()) flush();
        else
          writer.refresh().then(
            () => flush(),
            () => flush(),
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
    flush: () => flush(),
    metrics(metricsOptions: MetricsOptions = {}) {
      const format = metricsOptions.format ?? 'prometheus';
      if (format !== 'prometheus' && format !== 'openmetrics') {
        return Promise.reject(new ConfigError('format', format, '"prometheus" or "openmetrics"'));
      }
      try {
        return Promise.resolve(
          read((db, s) => {
            const now = Date.now();
            let writers = viewWriters(s, now);
            // Folding is housekeeping: it waits briefly for the write lock, and a busy database must
            // neither fail nor stall the scrape (it is retried at the next one).
            db.pragma(`busy_timeout = ${GC_BUSY_MS}`);
            try {
              if (collectGarbage(db, s, now, writers) > 0) writers = viewWriters(s, now);
            } catch {
              // retried at the next scrape
            } finally {
              db.pragma(`busy_timeout = ${READ_BUSY_MS}`);
            }
            const snapshot = db
              .transaction(() => ({
                metrics: s.readMetrics.all() as unknown[][],
                series: s.readSeries.all() as unknown[][],
                gauges: s.readGauges.all() as unknown[][],
                writers,
              }))
              .deferred();
            return render(snapshot, format === 'openmetrics');
          }),
        );
      } catch (err) {
        return Promise.reject(err);
      }
    },
    health(): StoreHealth {
      return read((_db, s) => {
        const now = Date.now();
        const writers = viewWriters(s, now);
        const meta = (key: string) => Number((s.getMeta.get(key) as { value: number } | undefined)?.value ?? 0);
        const live = writers.filter((w) => w.alive);
        return {
          path,
          sizeBytes: fileSize(path) + fileSize(`${path}-wal`),
          liveWriters: live.length,
          stalledWriters: live.filter((w) => now - w.row.heartbeat_at > 3 * w.row.interval_ms).length,
          deadWriters: writers.length - live.length,
          foldedWriters: meta('folded_writers'),
          flushFailures: meta('flush_failures') + writers.reduce((n, w) => n + w.row.flush_failures, 0),
          unstorableValues: meta('unstorable_values'),
          conflicts: (s.readConflicts.all() as { metric: string; detail: string }[]).map((c) => ({
            metric: c.metric,
            detail: c.detail,
          })),
        };
      });
    },
    close() {
      if (closed) return;
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
}

function validate(options: StoreOptions): Resolved {
  if (options === null || typeof options !== 'object') throw new ConfigError('options', options, 'an object');
  const known = ['dir', 'flushIntervalMs', 'fresh', 'logger'];
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) throw new ConfigError('option', key, `one of ${known.join(', ')}`);
  }
  const { dir, flushIntervalMs, fresh, logger } = options;
  if (dir !== undefined && (typeof dir !== 'string' || dir.trim() === '' || dir.includes('\0'))) {
    throw new ConfigError('option dir', dir, 'a directory path');
  }
  const interval = flushIntervalMs ?? envFlushIntervalMs(process.env);
  if (!Number.isInteger(interval) || interval < MIN_FLUSH_MS || interval > MAX_FLUSH_MS) {
    throw new ConfigError('option flushIntervalMs', flushIntervalMs, 'an integer number of milliseconds, 10-3600000');
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
  };
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

function errorCode(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : err instanceof Error ? err.message : String(err);
}
