import { rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Counter, Registry } from 'prom-client';
import { afterAll, expect, it } from 'vitest';
import { openStore } from './index.js';
import { captureLogger, removeTempDirs, tempDir } from './test-support/children.js';

afterAll(removeTempDirs);

it('a directory that cannot be created yet does not throw: flushes fail, logged once, and succeed once it can be', async () => {
  const { root } = tempDir();
  const blocker = join(root, 'volume');
  writeFileSync(blocker, 'not a directory yet'); // mkdir fails even for root (ENOTDIR)
  const dir = join(blocker, 'store');
  const log = captureLogger();
  const registry = new Registry();
  const jobs = new Counter({ name: 'jobs_total', help: 'Jobs', registers: [registry] });
  const store = openStore({ dir, flushIntervalMs: 3_600_000, logger: log.logger });
  store.attach(registry);
  jobs.inc(2);
  expect(store.flush()).toBe(false);
  jobs.inc(3);
  expect(store.flush()).toBe(false);
  expect(log.warnings).toHaveLength(1);
  expect(log.warnings[0]).toContain(`cannot write metrics store ${join(dir, 'kci-metrics.sqlite')}`);
  expect(() => store.health()).toThrow(/STORE|store/);

  rmSync(blocker); // the volume appears
  expect(store.flush()).toBe(true);
  expect(statSync(dir).mode & 0o777).toBe(0o700);
  expect(await store.metrics()).toContain('\njobs_total 5\n');
  store.close();
});
