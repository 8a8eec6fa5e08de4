/**
 * The demo backend as the reliability tests run it (dist/main.js, metrics on, a short flush interval, no
 * synthetic latency), and what they read from it: live worker pids, the aggregator's pid, raw scrapes, the
 * store's database directly.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BackendProcess, cleanEnv, freePort, startBackend } from '../../test-support/backend.js';
import { requestCounts, total, waitForAggregator } from '../../test-support/scrape.js';

export interface Cluster {
  backend: BackendProcess;
  /** The temporary directory holding the store directory (removed by `stop()`). */
  root: string;
  /** PROMETHEUS_MULTIPROC_DIR. */
  dir: string;
  /** The database file. */
  db: string;
  metricsPort: number;
  flushMs: number;
  stop(): Promise<void>;
}

/** Start 2 Koa workers with metrics on and wait for the aggregator's first answer. */
export async function startCluster(options: { workers?: number; flushMs?: number } = {}): Promise<Cluster> {
  const root = mkdtempSync(join(tmpdir(), 'kci-reliability-'));
  const dir = join(root, 'store');
  const metricsPort = await freePort();
  const flushMs = options.flushMs ?? 250;
  const backend = await startBackend(
    'main',
    cleanEnv({
      PROMETHEUS_METRICS_ENABLED: 'true',
      WEB_CONCURRENCY: String(options.workers ?? 2),
      BACKEND_LATENCY_SCALE: '0',
      PROMETHEUS_METRICS_PORT: String(metricsPort),
      PROMETHEUS_MULTIPROC_DIR: dir,
      PROMETHEUS_METRICS_FLUSH_INTERVAL_MS: String(flushMs),
    }),
  );
  await waitForAggregator(metricsPort);
  return {
    backend,
    root,
    dir,
    db: join(dir, 'kci-metrics.sqlite'),
    metricsPort,
    flushMs,
    async stop() {
      await backend.stop();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** Workers that reported listening and have not been reported dead since, oldest first. */
export function liveWorkerPids(backend: BackendProcess): number[] {
  const exited = new Set([...backend.output.matchAll(/\(pid (\d+)\) exited/g)].map((m) => Number(m[1])));
  return backend.workerPids.filter((pid) => !exited.has(pid));
}

/** The primary's child that runs the aggregator (its other children are the workers). */
export function aggregatorPid(primaryPid: number): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // Field 4 of /proc/<pid>/stat, after the parenthesised command name (which may contain spaces).
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== primaryPid) continue;
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes('aggregator')) return Number(entry);
    } catch {
      // the process ended while we looked
    }
  }
  return undefined;
}

export interface Scrape {
  /** 0 when nothing answered (the aggregator is down). */
  status: number;
  body: string;
}

export async function scrapeRaw(port: number): Promise<Scrape> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/metrics/`);
    return { status: response.status, body: await response.text() };
  } catch {
    return { status: 0, body: '' };
  }
}

/** Sum of http_request_duration_seconds_count in an exposition: every response the workers recorded. */
export function requestTotal(text: string): number {
  return total(requestCounts(text));
}

/** The value of one sample line (`name{labels}` exactly as exposed), or undefined. */
export function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** Lines of the backend's output (primary, workers, aggregator) matching `pattern`. */
export function logLines(backend: BackendProcess, pattern: RegExp): string[] {
  return backend.output.split('\n').filter((line) => pattern.test(line));
}

/** Poll `read` until `done` holds or `timeoutMs` passed; returns the last value (the caller asserts on it). */
export async function pollUntil<T>(read: () => Promise<T> | T, done: (value: T) => boolean, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface SqliteDatabase {
  pragma(source: string, options?: { simple?: boolean }): unknown;
  close(): void;
}

/**
 * better-sqlite3, resolved from @kci-metrics/sqlite-store (the backend itself does not depend on it): the
 * tests inspect the database file the way an operator would, below the store's API.
 */
export function openDatabase(path: string): SqliteDatabase {
  const store = createRequire(import.meta.url).resolve('@kci-metrics/sqlite-store');
  const Database = createRequire(store)('better-sqlite3') as new (
    path: string,
    options: { readonly: boolean },
  ) => SqliteDatabase;
  return new Database(path, { readonly: true });
}

/** PRAGMA integrity_check: 'ok' for a sound database, else SQLite's list of problems. */
export function integrity(path: string): string {
  const db = openDatabase(path);
  try {
    return String(db.pragma('integrity_check', { simple: true }));
  } finally {
    db.close();
  }
}
