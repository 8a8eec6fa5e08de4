import { createServer, type Server } from 'node:net';
import { ConfigError } from '@kci-metrics/sqlite-store';
import { afterEach, describe, expect, it } from 'vitest';
import { startAggregator } from './index.js';
import { get, MemoryLogger } from './test-support/http.js';
import { freePort } from './test-support/process.js';
import { StoreFixture } from './test-support/store.js';

// startAggregator(): the server of the kci-metrics-aggregator command, started in this process, against a
// real store that a real writer process wrote to.
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function fixture(): StoreFixture {
  const f = new StoreFixture();
  cleanups.push(() => f.close());
  return f;
}

describe('startAggregator', () => {
  it('port 0: listens on a free port and serves what a writer process stored; close() frees the port', async () => {
    const store = fixture();
    await store.spawnWriter({ value: 5 }).then(({ exited }) => exited);
    const logger = new MemoryLogger();
    const aggregator = await startAggregator({ port: 0, host: '127.0.0.1', dir: store.dir, env: {}, logger });
    expect(aggregator.port).toBeGreaterThan(0);
    expect(aggregator.host).toBe('127.0.0.1');
    expect(aggregator.url).toBe(`http://127.0.0.1:${aggregator.port}/metrics/`);
    expect(logger.lines).toEqual([`info aggregator listening on ${aggregator.url} (store ${store.dir})`]);
    const answer = await get(aggregator.port);
    expect(answer.status).toBe(200);
    expect(answer.text).toContain('\nworker_jobs_total 5\n');
    expect(answer.text).toContain('jobs_total{queue="a \\"quoted\\"\\nqueue"} 3\n');
    await aggregator.close();
    await expect(get(aggregator.port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await aggregator.close(); // twice is fine
  });

  it('defaults to the environment the command reads: port, host, store directory and authentication', async () => {
    const store = fixture();
    const port = await freePort();
    const aggregator = await startAggregator({
      env: {
        PROMETHEUS_METRICS_PORT: String(port),
        PROMETHEUS_METRICS_HOST: '127.0.0.1',
        PROMETHEUS_MULTIPROC_DIR: store.dir,
        PROMETHEUS_METRICS_AUTH_TOKEN: 'secret-token',
      },
      logger: new MemoryLogger(),
    });
    cleanups.push(() => aggregator.close());
    expect(aggregator.url).toBe(`http://127.0.0.1:${port}/metrics/`);
    expect((await get(port)).status).toBe(401);
    const answer = await get(port, '/metrics/', { headers: { Authorization: 'Bearer secret-token' } });
    expect(answer.status).toBe(200);
    expect(answer.text).toContain('queue_depth 7\n');
  });

  it('options win over the environment, even over an invalid variable they replace', async () => {
    const store = fixture();
    const aggregator = await startAggregator({
      port: 0,
      host: '127.0.0.1',
      dir: store.dir,
      env: {
        PROMETHEUS_METRICS_PORT: 'abc',
        PROMETHEUS_METRICS_HOST: 'not a host',
        PROMETHEUS_MULTIPROC_DIR: '/nonexistent',
      },
      logger: new MemoryLogger(),
    });
    cleanups.push(() => aggregator.close());
    expect((await get(aggregator.port)).text).toContain('queue_depth 7\n');
  });

  it.each([
    [{ port: -1 }, 'Invalid option port -1: expected an integer 0-65535'],
    [{ port: 70000 }, 'Invalid option port 70000: expected an integer 0-65535'],
    [{ port: '8001' }, 'Invalid option port "8001": expected an integer 0-65535'],
    [{ host: '' }, 'Invalid option host "": expected an IP address or host name'],
    [{ env: { PROMETHEUS_METRICS_PORT: 'abc' } }, 'Invalid PROMETHEUS_METRICS_PORT "abc": expected an integer 1-65535'],
    [
      { port: 0, env: { PROMETHEUS_METRICS_BASIC_AUTH_USER: 'prom' } },
      'Invalid PROMETHEUS_METRICS_BASIC_AUTH_USER "prom": expected to be used with PROMETHEUS_METRICS_BASIC_AUTH_PASSWORD',
    ],
  ])('%j rejects with a ConfigError naming the value', async (options, message) => {
    const error = await startAggregator({
      host: '127.0.0.1',
      logger: new MemoryLogger(),
      ...(options as object),
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain(message);
  });

  it('rejects naming the address when the port is taken, and leaves nothing running', async () => {
    const store = fixture();
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
    const address = blocker.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    const logger = new MemoryLogger();
    await expect(startAggregator({ port, host: '127.0.0.1', dir: store.dir, env: {}, logger })).rejects.toThrow(
      `cannot listen on http://127.0.0.1:${port}/metrics/: the address is already in use (EADDRINUSE)`,
    );
    expect(logger.lines).toEqual([]);
  });
});
