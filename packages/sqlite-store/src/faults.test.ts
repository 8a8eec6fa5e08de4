import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  closeSync,
  copyFileSync,
  mkdirSync,
  openSync,
  renameSync,
  rmSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { openStore } from './index.js';
import { captureLogger, killAll, removeTempDirs, startFixture, startWorker, tempDir } from './test-support/children.js';
import { parseExposition, sampleValue } from './test-support/exposition.js';

afterEach(killAll);
afterAll(removeTempDirs);

const quiet = { warn() {} };
const isRoot = process.getuid?.() === 0;
const NOBODY = 65534;

/** This test process as a worker: a counter and a histogram attached to a store that logs into arrays. */
function worker(dir: string) {
  const log = captureLogger();
  const registry = new Registry();
  const jobs = new Counter({ name: 'jobs_total', help: 'Jobs', labelNames: ['queue'], registers: [registry] });
  const seconds = new Histogram({ name: 'job_seconds', help: 'Time', buckets: [1], registers: [registry] });
  new Gauge({ name: 'queue_depth', help: 'Jobs waiting (livesum)', registers: [registry] }).set(4);
  const store = openStore({ dir, flushIntervalMs: 3_600_000, logger: log.logger });
  store.attach(registry);
  const record = (n: number) => {
    jobs.inc({ queue: 'q' }, n);
    for (let i = 0; i < n; i++) seconds.observe(0.5);
  };
  return { store, record, ...log };
}

/** Move every page into the database file, as SQLite's automatic checkpoints do (before damaging the file). */
function checkpoint(path: string): void {
  const db = new Database(path);
  try {
    db.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    db.close();
  }
}

async function totals(dir: string) {
  const reader = openStore({ dir, logger: quiet });
  try {
    const exp = parseExposition(await reader.metrics());
    return { jobs: sampleValue(exp, 'jobs_total', { queue: 'q' }), count: sampleValue(exp, 'job_seconds_count') };
  } finally {
    reader.close();
  }
}

describe('the database locked by another process', () => {
  it('makes flushes give up at once, logged once; scrapes go on; afterwards everything is written exactly once', async () => {
    const { dir } = tempDir();
    const w = worker(dir);
    w.record(5);
    expect(w.store.flush()).toBe(true);
    const locker = await startFixture('locker.mjs', [w.store.path]);

    w.record(3);
    expect(w.store.flush()).toBe(false);
    w.record(2);
    expect(w.store.flush()).toBe(false);
    expect(w.store.flush()).toBe(false);
    expect(w.warnings).toHaveLength(1);
    expect(w.warnings[0]).toContain(`cannot write metrics store ${w.store.path} (SQLITE_BUSY: database is locked)`);
    // Readers are not blocked by the writer's lock (WAL): the scrape shows what was committed.
    expect(await totals(dir)).toEqual({ jobs: 5, count: 5 });

    await locker.call('release');
    expect(w.store.flush()).toBe(true);
    expect(w.store.flush()).toBe(true);
    expect(w.infos).toEqual([`metrics store ${w.store.path} writable again; pending values written`]);
    expect(w.warnings).toHaveLength(1);
    expect(await totals(dir)).toEqual({ jobs: 10, count: 10 });
    // Still one writer: the failed flushes did not make this process count twice.
    expect(w.store.health()).toMatchObject({ flushFailures: 3, liveWriters: 1, stalledWriters: 0 });
    expect(await w.store.metrics()).toContain('\nqueue_depth 4\n');
    w.store.close();
  });

  it('shows in health() as a stalled writer while it lasts', async () => {
    const { dir } = tempDir();
    const log = captureLogger();
    const registry = new Registry();
    new Counter({ name: 'jobs_total', help: 'Jobs', registers: [registry] }).inc();
    const store = openStore({ dir, flushIntervalMs: 20, logger: log.logger });
    store.attach(registry);
    expect(store.flush()).toBe(true);
    const reader = openStore({ dir, logger: quiet });
    const until = async (stalled: number) => {
      const deadline = Date.now() + 10_000;
      while (reader.health().stalledWriters !== stalled) {
        if (Date.now() > deadline)
          throw new Error(`health() never showed ${stalled} stalled: ${JSON.stringify(reader.health())}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    try {
      const locker = await startFixture('locker.mjs', [store.path]);
      await until(1); // its timer's flushes fail: no heartbeat for 3 intervals
      expect(reader.health().liveWriters).toBe(1);
      // A lock that outlasts 3 attempts in a row is a failure (shorter ones are contention): logged once.
      const deadline = Date.now() + 10_000;
      while (log.warnings.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      await locker.call('release');
      await until(0);
      expect(reader.health()).toMatchObject({ liveWriters: 1, flushFailures: expect.any(Number) });
      expect(reader.health().flushFailures).toBeGreaterThan(0);
      expect(log.warnings).toHaveLength(1);
    } finally {
      // Stop this process's flush timer even when the test fails (it would spin on a held lock).
      reader.close();
      store.close();
    }
  });

  it('a process exiting meanwhile waits for the lock to write its last values', async () => {
    const { dir } = tempDir();
    const define = {
      op: 'define',
      kind: 'counter',
      config: { name: 'jobs_total', help: 'Jobs', labelNames: ['queue'] },
    };
    const child = await startWorker({
      dir,
      script: [define, { op: 'inc', name: 'jobs_total', labels: { queue: 'q' }, value: 2 }, { op: 'flush' }],
    });
    const locker = await startFixture('locker.mjs', [join(dir, 'kci-metrics.sqlite')]);
    await child.call('inc', { name: 'jobs_total', labels: { queue: 'q' }, value: 7 });
    child.send('exit', { code: 0 });
    // The exit hook waits up to 2 s for the lock: release it as soon as the process is in it.
    while (!child.stderr().includes('EXITING')) await new Promise((r) => setTimeout(r, 5));
    await locker.call('release');
    expect(await child.exited).toEqual({ code: 0, signal: null });
    expect((await totals(dir)).jobs).toBe(9);
  });
});

describe('a store directory that is not writable', () => {
  it('makes flushes fail, logged once with the path and the cause, and the values are written once it is', async () => {
    const { root, dir } = tempDir();
    mkdirSync(dir, { mode: 0o500 });
    if (isRoot) {
      // Root ignores permissions: the worker runs as nobody, owning the read-only directory.
      chmodSync(root, 0o755);
      chownSync(dir, NOBODY, NOBODY);
    }
    const define = {
      op: 'define',
      kind: 'counter',
      config: { name: 'jobs_total', help: 'Jobs', labelNames: ['queue'] },
    };
    const inc = (value: number) => ({ op: 'inc', name: 'jobs_total', labels: { queue: 'q' }, value });
    const child = await startWorker(
      { dir, script: [define, inc(4), { op: 'flush' }, inc(1), { op: 'flush' }] },
      isRoot ? { uid: NOBODY, gid: NOBODY } : {},
    );
    expect(child.ready.results.filter((r) => r === false)).toHaveLength(2);
    const warnings = child
      .stderr()
      .split('\n')
      .filter((l) => l.startsWith('WARN'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`cannot write metrics store ${join(dir, 'kci-metrics.sqlite')} (EACCES`);

    chmodSync(dir, 0o700);
    expect(await child.call('flush')).toBe(true);
    expect(child.stderr()).toContain('INFO metrics store');
    const text = await child.call<string>('scrape');
    expect(sampleValue(parseExposition(text), 'jobs_total', { queue: 'q' })).toBe(5);
  });
});

describe('a full disk (SQLITE_FULL)', () => {
  it('makes flushes fail, logged once; what was recorded meanwhile is written once there is space', async (ctx) => {
    const { root } = tempDir();
    const mnt = join(root, 'small-disk');
    mkdirSync(mnt);
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0700', 'tmpfs', mnt], { stdio: 'pipe' });
    } catch (err) {
      // Needs root (CAP_SYS_ADMIN): CI runs as root; elsewhere this case cannot be staged.
      ctx.skip(`cannot mount a small tmpfs to fill: ${(err as Error).message.split('\n')[0]}`);
    }
    try {
      const dir = join(mnt, 'store');
      const w = worker(dir);
      w.record(5);
      expect(w.store.flush()).toBe(true);
      const filler = openSync(join(mnt, 'filler'), 'w');
      try {
        for (;;) writeSync(filler, Buffer.alloc(16_384));
      } catch (err) {
        expect((err as NodeJS.ErrnoException).code).toBe('ENOSPC');
      }
      closeSync(filler);
      // Many new series besides: the flush needs new pages, and there is no room for them.
      w.record(3);
      const registry = new Registry();
      const many = new Counter({ name: 'many_total', help: 'm', labelNames: ['k'], registers: [registry] });
      for (let i = 0; i < 300; i++) many.inc({ k: `${i}-${'x'.repeat(200)}` });
      w.store.attach(registry);
      expect(w.store.flush()).toBe(false);
      w.record(2);
      expect(w.store.flush()).toBe(false);
      expect(w.warnings).toHaveLength(1);
      expect(w.warnings[0]).toContain(`cannot write metrics store ${w.store.path} (SQLITE_FULL`);
      expect(await totals(dir)).toEqual({ jobs: 5, count: 5 });

      rmSync(join(mnt, 'filler'));
      expect(w.store.flush()).toBe(true);
      expect(w.infos).toHaveLength(1);
      expect(await totals(dir)).toEqual({ jobs: 10, count: 10 });
      const exp = parseExposition(await w.store.metrics());
      expect(exp.samples.filter((s) => s.name === 'many_total')).toHaveLength(300);
      w.store.close();
    } finally {
      execFileSync('umount', [mnt]);
    }
  });
});

describe('a damaged database file', () => {
  it.each([
    [
      'replaced by a file that is not SQLite',
      'SQLITE_NOTADB',
      (path: string) => {
        writeFileSync(`${path}.new`, 'garbage '.repeat(2000));
        renameSync(`${path}.new`, path);
      },
    ],
    ['truncated to its first page', 'SQLITE_CORRUPT', (path: string) => truncateSync(path, 4096)],
  ])(
    '%s: flushes fail (logged once), scrapes reject with STORE_READ_FAILED; once it is deleted, pending values are written',
    async (_, cause, damage) => {
      const { dir } = tempDir();
      const w = worker(dir);
      w.record(5);
      expect(w.store.flush()).toBe(true);
      checkpoint(w.store.path);
      damage(w.store.path);

      w.record(3);
      expect(w.store.flush()).toBe(false);
      w.record(2);
      expect(w.store.flush()).toBe(false);
      expect(w.warnings).toHaveLength(1);
      expect(w.warnings[0]).toContain(`cannot write metrics store ${w.store.path} (${cause}`);
      const reader = openStore({ dir, logger: quiet });
      await expect(reader.metrics()).rejects.toMatchObject({
        name: 'StoreError',
        code: 'STORE_READ_FAILED',
        path: w.store.path,
      });
      expect(() => reader.health()).toThrow(expect.objectContaining({ code: 'STORE_READ_FAILED' }));

      // The operator removes the damaged file: the next flush recreates it with what was pending.
      rmSync(w.store.path);
      expect(w.store.flush()).toBe(true);
      expect(w.infos).toHaveLength(1);
      const exp = parseExposition(await reader.metrics());
      expect(sampleValue(exp, 'jobs_total', { queue: 'q' })).toBe(5);
      expect(w.store.flush()).toBe(true);
      expect(await totals(dir)).toEqual({ jobs: 5, count: 5 });
      reader.close();
      w.store.close();
    },
  );

  it('restored from a copy: the writer reconnects and carries on as the same writer, counted once', async () => {
    const { dir } = tempDir();
    const w = worker(dir);
    w.record(5);
    expect(w.store.flush()).toBe(true);
    checkpoint(w.store.path);
    copyFileSync(w.store.path, `${w.store.path}.copy`);
    renameSync(`${w.store.path}.copy`, w.store.path); // a new file (inode) with the same content
    w.record(3);
    expect(w.store.flush()).toBe(true);
    expect(await totals(dir)).toEqual({ jobs: 8, count: 8 });
    expect(w.store.health()).toMatchObject({ liveWriters: 1, stalledWriters: 0 });
    expect(await w.store.metrics()).toContain('\nqueue_depth 4\n');
    w.store.close();
  });

  it('truncated to nothing: it is a new, empty store; the next flush writes what was pending', async () => {
    const { dir } = tempDir();
    const w = worker(dir);
    w.record(5);
    expect(w.store.flush()).toBe(true);
    checkpoint(w.store.path);
    truncateSync(w.store.path, 0);
    w.record(3);
    // The open connection notices first (that flush fails), the reopened one finds an empty database.
    expect([w.store.flush(), w.store.flush()]).toContain(true);
    expect(await totals(dir)).toEqual({ jobs: 3, count: 3 });
    w.store.close();
  });
});
