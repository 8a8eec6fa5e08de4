import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stopper } from './process.js';
import { repoPath } from './repo.js';
import { waitUntil } from './wait.js';

/** The demo backend's entry point, built by `pnpm turbo run build --filter=backend...`. */
export const BACKEND_MAIN = repoPath('apps/backend/dist/main.js');

export interface DemoBackendOptions {
  /** WEB_CONCURRENCY. Default 2. */
  workers?: number;
  /** BACKEND_LATENCY_SCALE: each route sleeps 1-5 ms times this. Default 1. */
  latencyScale?: number;
  /**
   * PROMETHEUS_METRICS_FLUSH_INTERVAL_MS. Default 500: a scrape sees a request within a second, and a
   * worker starved of CPU on a busy test machine for less than three intervals (1.5 s) is not reported
   * as a stalled writer.
   */
  flushIntervalMs?: number;
  /** More variables (the aggregator's authentication settings, for instance). */
  env?: Record<string, string>;
  /** How long the workers and the aggregator may take to start. Default 30 s (a busy 2-core machine). */
  startTimeoutMs?: number;
}

export interface DemoBackend {
  /** `http://127.0.0.1:<port>`: the API the workers share. */
  readonly apiUrl: string;
  /** `127.0.0.1:<port>`: the aggregator, as a Prometheus target. */
  readonly target: string;
  /** `http://127.0.0.1:<port>/metrics/`. */
  readonly metricsUrl: string;
  /** PROMETHEUS_MULTIPROC_DIR, a fresh directory of its own (one "host"). */
  readonly storeDir: string;
  readonly workers: number;
  /** Everything the backend and its aggregator printed (for failure messages). */
  output(): string;
  /** SIGTERM (the backend drains, then stops its aggregator), SIGKILL after 15 s; then remove the store. */
  stop(): Promise<void>;
}

/**
 * Start the demo backend (apps/backend/dist/main.js) as it runs in production: a node:cluster of workers
 * recording into a fresh SQLite store, and the aggregator child process serving /metrics/ on a free
 * loopback port. Resolves once every worker listens and the aggregator is up.
 *
 * @example
 * const backend = await startDemoBackend({ workers: 3 });
 * try {
 *   await fetch(`${backend.apiUrl}/api/tree/`);
 *   const prom = await startPrometheus(testPrometheusConfig({ targets: [backend.target] }));
 * } finally {
 *   await backend.stop();
 * }
 */
export async function startDemoBackend(options: DemoBackendOptions = {}): Promise<DemoBackend> {
  if (!existsSync(BACKEND_MAIN))
    throw new Error(`${BACKEND_MAIN} is missing: build first (pnpm turbo run build --filter=backend...)`);
  const workers = options.workers ?? 2;
  const home = await mkdtemp(join(tmpdir(), 'kci-backend-'));
  const storeDir = join(home, 'store'); // created by the backend itself, owner-only
  const metricsPort = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...inheritedEnv(),
    BACKEND_HOST: '127.0.0.1',
    BACKEND_PORT: '0',
    WEB_CONCURRENCY: String(workers),
    BACKEND_LATENCY_SCALE: String(options.latencyScale ?? 1),
    PROMETHEUS_METRICS_ENABLED: 'true',
    PROMETHEUS_METRICS_HOST: '127.0.0.1',
    PROMETHEUS_METRICS_PORT: String(metricsPort),
    PROMETHEUS_MULTIPROC_DIR: storeDir,
    PROMETHEUS_METRICS_FLUSH_INTERVAL_MS: String(options.flushIntervalMs ?? 500),
    ...options.env,
  };
  const child = spawn(process.execPath, [BACKEND_MAIN], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const stop = stopper(child, 15_000, () => rm(home, { recursive: true, force: true }));

  try {
    const port = await waitUntil(
      () => {
        if (child.exitCode !== null) throw new Error(`the backend exited with code ${child.exitCode}`);
        const ready = /workers listening on http:\/\/[^:]+:(\d+)/.exec(out)?.[1];
        return ready && out.includes('aggregator listening on') ? Number(ready) : undefined;
      },
      {
        what: `${workers} backend workers and the aggregator to listen`,
        timeoutMs: options.startTimeoutMs ?? 30_000,
        intervalMs: 50,
      },
    );
    const target = `127.0.0.1:${metricsPort}`;
    return {
      apiUrl: `http://127.0.0.1:${port}`,
      target,
      metricsUrl: `http://${target}/metrics/`,
      storeDir,
      workers,
      output: () => out,
      stop,
    };
  } catch (error) {
    await stop();
    throw new Error(`${(error as Error).message}\n--- backend output ---\n${out}`);
  }
}

/** This process's environment without any backend or metrics setting that could leak into the child. */
function inheritedEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^(PROMETHEUS_|BACKEND_|WEB_CONCURRENCY|TRAFFIC_)/.test(key)) env[key] = value;
  }
  return env;
}

/** A free loopback port for the aggregator (PROMETHEUS_METRICS_PORT must be 1-65535, not 0). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}
