import { Counter, Registry } from 'prom-client';
import { afterAll, afterEach, expect, it } from 'vitest';
import { openStore } from './index.js';
import { captureLogger, killAll, removeTempDirs, startFixture, tempDir } from './test-support/children.js';

afterEach(killAll);
afterAll(removeTempDirs);

it('a lock that is free again within 3 attempts is contention: not logged, not counted, nothing lost', async () => {
  const { dir } = tempDir();
  const log = captureLogger();
  const registry = new Registry();
  const jobs = new Counter({ name: 'jobs_total', help: 'Jobs', registers: [registry] });
  const store = openStore({ dir, flushIntervalMs: 3_600_000, logger: log.logger });
  store.attach(registry);
  jobs.inc(5);
  expect(store.flush()).toBe(true);

  const locker = await startFixture('locker.mjs', [store.path]);
  jobs.inc(3);
  expect(store.flush()).toBe(false);
  expect(store.flush()).toBe(false);
  await locker.call('release');
  expect(store.flush()).toBe(true);

  expect(log.warnings).toEqual([]);
  expect(store.health().flushFailures).toBe(0);
  expect(await store.metrics()).toContain('\njobs_total 8\n');
  store.close();
});
