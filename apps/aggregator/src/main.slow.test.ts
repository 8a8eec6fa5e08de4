import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get } from './test-support/http.js';
import { assertBuilt, freePort, MAIN, runMain } from './test-support/process.js';
import { StoreFixture } from './test-support/store.js';

// The real program as a child process: environment errors, exit codes, start-up line and shutdown.
const dir = mkdtempSync(join(tmpdir(), 'aggregator-main-'));
const storeDir = join(dir, 'store');
beforeAll(assertBuilt);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function base(port: number): Record<string, string> {
  return {
    PROMETHEUS_METRICS_PORT: String(port),
    PROMETHEUS_METRICS_HOST: '127.0.0.1',
    PROMETHEUS_MULTIPROC_DIR: storeDir,
  };
}

describe('invalid environment', () => {
  it.each([
    [{ PROMETHEUS_METRICS_PORT: 'abc' }, 'Invalid PROMETHEUS_METRICS_PORT "abc": expected an integer 1-65535'],
    [{ PROMETHEUS_METRICS_PORT: '70000' }, 'Invalid PROMETHEUS_METRICS_PORT "70000": expected an integer 1-65535'],
    [{ PROMETHEUS_METRICS_HOST: 'not a host' }, 'Invalid PROMETHEUS_METRICS_HOST "not a host"'],
    [
      { PROMETHEUS_METRICS_AUTH_TOKEN_FILE: '/nonexistent/token' },
      'Invalid PROMETHEUS_METRICS_AUTH_TOKEN_FILE "/nonexistent/token": expected a readable file holding the secret (ENOENT)',
    ],
    [
      { PROMETHEUS_METRICS_AUTH_TOKEN: 'abc', PROMETHEUS_METRICS_BASIC_AUTH_USER: 'prom' },
      'Invalid PROMETHEUS_METRICS_AUTH_TOKEN "[redacted, 3 characters]": expected a bearer token or basic auth, not both',
    ],
  ])('%o exits with code 2 and one line naming the variable and the value', async (env, message) => {
    const child = runMain({ PROMETHEUS_MULTIPROC_DIR: storeDir, ...env });
    expect(await child.exited).toBe(2);
    expect(child.stderr()).toMatch(new RegExp(`^aggregator: ${message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}.*\\n$`));
    expect(child.stderr()).not.toMatch(/\n\s+at /);
    expect(child.stderr().split('\n')).toHaveLength(2);
  });
});

describe('the installed command', () => {
  const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));

  it('package.json names it kci-metrics-aggregator, and its file is the program these tests run, with a shebang', () => {
    expect(manifest.name).toBe('@kci-metrics/aggregator');
    expect(fileURLToPath(new URL(`../${manifest.bin['kci-metrics-aggregator']}`, import.meta.url))).toBe(MAIN);
    expect(readFileSync(MAIN, 'utf8').split('\n', 1)[0]).toBe('#!/usr/bin/env node');
  });

  it.each(['--help', '-h'])('%s prints the usage with every variable, exit 0', async (flag) => {
    const child = runMain({}, { args: [flag] });
    expect(await child.exited).toBe(0);
    expect(child.stdout()).toMatch(/^Usage: kci-metrics-aggregator/);
    for (const name of [
      'PROMETHEUS_METRICS_PORT',
      'PROMETHEUS_METRICS_HOST',
      'PROMETHEUS_MULTIPROC_DIR',
      'PROMETHEUS_METRICS_AUTH_TOKEN',
    ]) {
      expect(child.stdout()).toContain(name);
    }
    expect(child.stderr()).toBe('');
  });

  it('--version prints the package version, exit 0', async () => {
    const child = runMain({}, { args: ['--version'] });
    expect(await child.exited).toBe(0);
    expect(child.stdout()).toBe(`${manifest.version}\n`);
  });

  it('an unknown argument exits 2 naming it', async () => {
    const child = runMain({}, { args: ['--port=9000'] });
    expect(await child.exited).toBe(2);
    expect(child.stderr()).toBe(
      'aggregator: unknown argument "--port=9000": the aggregator is configured by the environment (see --help)\n',
    );
  });

  it('PROMETHEUS_METRICS_ENABLED=false does not stop it: it serves what the store holds (documented)', async () => {
    const port = await freePort();
    const child = runMain({ ...base(port), PROMETHEUS_METRICS_ENABLED: 'false' });
    try {
      await child.waitFor('listening');
      expect((await get(port)).status).toBe(200);
    } finally {
      child.process.kill('SIGTERM');
      expect(await child.exited).toBe(0);
    }
  });
});

describe('running', () => {
  it('logs where it listens, serves /metrics/, and exits 0 on SIGTERM', async () => {
    const port = await freePort();
    const child = runMain(base(port));
    await child.waitFor('\n');
    expect(child.stdout()).toBe(`aggregator listening on http://127.0.0.1:${port}/metrics/ (store ${storeDir})\n`);
    const answer = await get(port);
    expect(answer.status).toBe(200);
    expect(answer.text).toContain('kci_metrics_store_up 1');
    child.process.kill('SIGTERM');
    expect(await child.exited).toBe(0);
    expect(child.stderr()).toBe('');
  });

  it('exits 0 on SIGINT', async () => {
    const port = await freePort();
    const child = runMain(base(port));
    await child.waitFor('listening');
    child.process.kill('SIGINT');
    expect(await child.exited).toBe(0);
  });

  it('exits 1 with one clear line when the port is in use', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const address = blocker.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    try {
      const child = runMain(base(port));
      expect(await child.exited).toBe(1);
      expect(child.stderr()).toBe(
        `aggregator: cannot listen on http://127.0.0.1:${port}/metrics/: the address is already in use (EADDRINUSE)\n`,
      );
    } finally {
      blocker.close();
    }
  });

  it('exits 1 naming the directory when the store directory is unsafe (world-writable, no sticky bit)', async () => {
    const unsafe = join(dir, 'open-to-all');
    mkdirSync(unsafe);
    chmodSync(unsafe, 0o777);
    const child = runMain({ ...base(await freePort()), PROMETHEUS_MULTIPROC_DIR: unsafe });
    expect(await child.exited).toBe(1);
    expect(child.stderr()).toMatch(
      new RegExp(`^aggregator: cannot open the metrics store in ${unsafe}: .*STORE_UNSAFE_DIR.*writable by every user`),
    );
    expect(child.stderr().split('\n')).toHaveLength(2);
  });

  it('can be killed and restarted during scrapes: the worker keeps running and totals never go down', async () => {
    const fixture = new StoreFixture();
    const worker = await fixture.spawnWriter({ tickMs: 2, flushIntervalMs: 20, stay: true });
    const port = await freePort();
    const env = { ...base(port), PROMETHEUS_MULTIPROC_DIR: fixture.dir };
    const total = (text: string) => Number(/^worker_jobs_total (\d+)$/m.exec(text)?.[1]);
    try {
      let last = 0;
      for (let round = 0; round < 3; round++) {
        const aggregator = runMain(env);
        await aggregator.waitFor('listening');
        const first = await get(port);
        expect(first.status).toBe(200);
        expect(total(first.text)).toBeGreaterThanOrEqual(last);
        last = total(first.text);
        // SIGKILL while scrapes are in flight: they fail, nothing else may.
        const inFlight = Array.from({ length: 5 }, () => get(port).catch(() => undefined));
        aggregator.process.kill('SIGKILL');
        await Promise.all(inFlight);
        expect(await aggregator.exited).toBe('SIGKILL');
      }
      expect(worker.child.exitCode).toBeNull();
      const again = runMain(env);
      await again.waitFor('listening');
      const final = await get(port);
      expect(final.status).toBe(200);
      expect(total(final.text)).toBeGreaterThanOrEqual(last);
      expect(final.text).toContain('kci_metrics_store_writers{state="live"} 2\n');
      again.process.kill('SIGTERM');
      expect(await again.exited).toBe(0);
    } finally {
      worker.child.kill('SIGTERM');
      await worker.exited;
      fixture.close();
    }
  });

  it('requires the bearer token read from PROMETHEUS_METRICS_AUTH_TOKEN_FILE', async () => {
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, 'file-token\n', { mode: 0o600 });
    const port = await freePort();
    const child = runMain({ ...base(port), PROMETHEUS_METRICS_AUTH_TOKEN_FILE: tokenFile });
    try {
      await child.waitFor('listening');
      expect((await get(port)).status).toBe(401);
      expect((await get(port, '/metrics/', { headers: { Authorization: 'Bearer file-token' } })).status).toBe(200);
    } finally {
      child.process.kill('SIGTERM');
      await child.exited;
    }
  });

  it('stops when the parent that forked it goes away (no orphan holding the port)', async () => {
    const { AGGREGATOR_MAIN } = (await import('../dist/index.js')) as { AGGREGATOR_MAIN: string };
    expect(AGGREGATOR_MAIN).toBe(MAIN);
    const port = await freePort();
    const child = runMain(base(port), { ipc: true });
    await child.waitFor('listening');
    child.process.disconnect();
    expect(await child.exited).toBe(0);
    expect(child.stdout()).toContain('aggregator stopping (parent process exited)');
  });
});
