import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brokenDriverArgs, makeBrokenDriver } from '@kci-metrics/test-support/broken-driver';
import { afterAll, describe, expect, it } from 'vitest';
import { get } from './test-support/http.js';
import { assertBuilt, freePort, MAIN } from './test-support/process.js';

// better-sqlite3 whose native module is missing, as after `pnpm add` blocked its build script (issue 14,
// item 5): the command refuses to start saying what to do, and a server started by other means answers 503
// saying it. The shared node_modules is untouched: the child processes load a broken copy (test-support).
const dir = mkdtempSync(join(tmpdir(), 'aggregator-driver-'));
const driver = makeBrokenDriver(import.meta.url, 'missing');
const { execArgv, env: driverEnv } = brokenDriverArgs(driver);
const SERVE = fileURLToPath(new URL('./test-support/serve.mjs', import.meta.url));
assertBuilt();
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(driver, { recursive: true, force: true });
});

function run(args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, [...execArgv, ...args], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...driverEnv, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<number | string>((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? signal ?? '')),
  );
  return { child, exited, out: () => out, err: () => err };
}

describe('better-sqlite3 cannot load', () => {
  it('the command exits 1 with one line saying to approve the build or rebuild, before listening', async () => {
    const store = join(dir, 'command');
    const port = await freePort();
    const aggregator = run([MAIN], {
      PROMETHEUS_METRICS_PORT: String(port),
      PROMETHEUS_METRICS_HOST: '127.0.0.1',
      PROMETHEUS_MULTIPROC_DIR: store,
    });
    expect(await aggregator.exited).toBe(1);
    expect(aggregator.out()).toBe('');
    const lines = aggregator.err().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(
      new RegExp(`^aggregator: cannot open the metrics store in ${store}: .*Could not locate the bindings file`),
    );
    expect(lines[0]).toContain('pnpm approve-builds');
    expect(lines[0]).toContain('npm rebuild better-sqlite3');
  });

  it('a server started without the command answers 503 saying what to do, without paths', async () => {
    const server = run([SERVE, join(dir, 'serve')], {});
    try {
      await new Promise<void>((resolve, reject) => {
        server.child.stdout.on('data', () => server.out().includes('\n') && resolve());
        void server.exited.then((code) => reject(new Error(`serve.mjs exited ${code}: ${server.err()}`)));
      });
      const port = Number(/^port (\d+)/.exec(server.out())?.[1]);
      const answer = await get(port);
      expect(answer.status).toBe(503);
      expect(answer.text).toContain('metrics store unavailable: STORE_DRIVER_UNAVAILABLE');
      expect(answer.text).toContain('`pnpm approve-builds`');
      expect(answer.text).toContain('`npm rebuild better-sqlite3`');
      expect(answer.text).not.toContain('/');
      expect(server.err()).toContain('Could not locate the bindings file');
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
    }
  });
});
