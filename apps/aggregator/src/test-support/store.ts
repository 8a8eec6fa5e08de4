import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type MetricsStore, openStore } from '@kci-metrics/sqlite-store';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

const WRITER = fileURLToPath(new URL('./writer.mjs', import.meta.url));
const LOCKER = fileURLToPath(new URL('./locker.mjs', import.meta.url));
/** What the writer fixture (writer.mjs) records; see its header. */
export interface WriterSpec {
  type?: 'counter' | 'gauge';
  name?: string;
  value?: number;
  stay?: boolean;
  tickMs?: number;
  flushIntervalMs?: number;
}

const silent = { warn: () => {}, info: () => {} };

/**
 * A real store in a temp dir: `writer` is attached to `registry` (this test process plays a worker),
 * `reader` is what the aggregator serves (opened, never attached).
 */
export class StoreFixture {
  readonly dir = mkdtempSync(join(tmpdir(), 'aggregator-store-'));
  readonly registry = new Registry();
  readonly jobs: Counter;
  readonly writer: MetricsStore;
  readonly reader: MetricsStore;

  constructor() {
    this.jobs = new Counter({
      name: 'jobs_total',
      help: 'Jobs done.',
      labelNames: ['queue'],
      registers: [this.registry],
    });
    this.jobs.labels('a "quoted"\nqueue').inc(3);
    new Gauge({ name: 'queue_depth', help: 'Items waiting.', registers: [this.registry] }).set(7);
    new Histogram({ name: 'job_seconds', help: 'Job time.', buckets: [0.1, 1], registers: [this.registry] }).observe(
      0.5,
    );
    // A long interval: the tests flush explicitly, and the writer never looks stalled.
    this.writer = openStore({ dir: this.dir, flushIntervalMs: 3_600_000, logger: silent });
    this.writer.attach(this.registry);
    this.flush();
    this.reader = openStore({ dir: this.dir, logger: silent });
  }

  get dbPath(): string {
    return this.reader.path;
  }

  flush(): void {
    if (!this.writer.flush()) throw new Error('the test writer could not flush');
  }

  /** Replace the database with a file that is not SQLite (issue #6: "not a SQLite file"). */
  corrupt(): void {
    this.removeFiles();
    writeFileSync(this.dbPath, 'this is not an SQLite database\n'.repeat(200), { mode: 0o600 });
  }

  /** Delete the broken file; the next flush creates a fresh database. */
  repair(): void {
    this.removeFiles();
    this.jobs.labels('after repair').inc();
    this.flush();
  }

  /** Run the writer fixture as a separate worker process; resolves once it has flushed. */
  async spawnWriter(spec: WriterSpec) {
    const child = spawn(process.execPath, [WRITER, this.dir, JSON.stringify(spec)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    let out = '';
    let err = '';
    child.stderr.on('data', (chunk: Buffer) => {
      err += chunk.toString();
    });
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('ready')) resolve();
      });
      void exited.then((code) =>
        out.includes('ready') ? resolve() : reject(new Error(`writer exited ${code}: ${err}`)),
      );
    });
    return { child, exited };
  }

  /** Another process holds the write lock on the database; resolves once it does. `release()` ends it. */
  async lock(): Promise<{ release: () => Promise<void> }> {
    const child = spawn(process.execPath, [LOCKER, this.dbPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('locked') && resolve());
      void exited.then(() => reject(new Error('the locker exited before taking the lock')));
    });
    return {
      release: async () => {
        child.kill('SIGTERM');
        await exited;
      },
    };
  }

  close(): void {
    this.writer.close();
    this.reader.close();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private removeFiles(): void {
    for (const suffix of ['', '-wal', '-shm']) {
      try {
        unlinkSync(this.dbPath + suffix);
      } catch {
        // not there
      }
    }
  }
}
