import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { openStore } from './index.js';
import { type Child, killAll, removeTempDirs, startWorker, tempDir } from './test-support/children.js';
import { parseExposition, sampleValue } from './test-support/exposition.js';

afterEach(killAll);
afterAll(removeTempDirs);

/**
 * A worker that recorded 3 jobs and flushed nothing: its timer interval is an hour, so anything stored
 * was written by the store's exit hooks.
 */
async function recordedNotFlushed(dir: string): Promise<Child> {
  return startWorker({
    dir,
    script: [
      { op: 'define', kind: 'counter', config: { name: 'jobs_total', help: 'Jobs' } },
      { op: 'define', kind: 'gauge', config: { name: 'temperature', help: 'T', multiprocessMode: 'sum' } },
      { op: 'inc', name: 'jobs_total', value: 3 },
      { op: 'set', name: 'temperature', value: 21.5 },
    ],
  });
}

async function stored(dir: string) {
  const reader = openStore({ dir, logger: { warn() {} } });
  const exp = parseExposition(await reader.metrics());
  reader.close();
  return { jobs: sampleValue(exp, 'jobs_total'), temperature: sampleValue(exp, 'temperature') };
}

describe('values recorded just before a process ends are stored', () => {
  it('when it calls process.exit() (the exit code is kept)', async () => {
    const { dir } = tempDir();
    const w = await recordedNotFlushed(dir);
    w.send('exit', { code: 3 });
    expect(await w.exited).toEqual({ code: 3, signal: null });
    expect(await stored(dir)).toEqual({ jobs: 3, temperature: 21.5 });
  });

  it('when its event loop runs out of work (the store keeps no process alive)', async () => {
    const { dir } = tempDir();
    const w = await recordedNotFlushed(dir);
    w.send('end');
    expect(await w.exited).toEqual({ code: 0, signal: null });
    expect(await stored(dir)).toEqual({ jobs: 3, temperature: 21.5 });
  });

  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    it(`when it gets ${signal} with no handler of its own (and still dies of ${signal})`, async () => {
      const { dir } = tempDir();
      const w = await recordedNotFlushed(dir);
      w.proc.kill(signal);
      expect(await w.exited).toEqual({ code: null, signal });
      expect(await stored(dir)).toEqual({ jobs: 3, temperature: 21.5 });
    });
  }

  it('when the application handles SIGTERM itself and exits with its own code', async () => {
    const { dir } = tempDir();
    const w = await recordedNotFlushed(dir);
    await w.call('handle', { signal: 'SIGTERM', code: 0 });
    w.proc.kill('SIGTERM');
    expect(await w.exited).toEqual({ code: 0, signal: null });
    expect(await stored(dir)).toEqual({ jobs: 3, temperature: 21.5 });
  });

  it('when it crashes with an uncaught exception (exit code 1 as usual)', async () => {
    const { dir } = tempDir();
    const w = await recordedNotFlushed(dir);
    w.send('crash');
    expect(await w.exited).toEqual({ code: 1, signal: null });
    expect(w.stderr()).toContain('Error: boom');
    expect(await stored(dir)).toEqual({ jobs: 3, temperature: 21.5 });
  });

  it('and a process that exited cleanly counts as gone at once (live gauge modes drop it)', async () => {
    const { dir } = tempDir();
    const w = await recordedNotFlushed(dir);
    w.send('exit', { code: 0 });
    await w.exited;
    const reader = openStore({ dir, logger: { warn() {} } });
    expect(reader.health()).toMatchObject({ liveWriters: 0, deadWriters: 1 });
    reader.close();
  });
});
