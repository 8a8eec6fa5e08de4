/**
 * A cluster worker (the file the primary forks): serves the API on the shared port and drains when the
 * primary says so or when it receives SIGTERM/SIGINT itself (Ctrl+C reaches the whole process group).
 */
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import type { RequestHandler } from 'express';
import type { Middleware } from 'koa';
import type { BackendConfig } from './config.js';
import { isMessage, LISTENING, type ListeningMessage, SHUTDOWN, WORKER_CONFIG_ENV } from './messages.js';
import type { MetricsConfig } from './metrics-config.js';
import type { WorkerMetrics } from './worker-metrics.js';

async function handler(config: BackendConfig, metrics: WorkerMetrics | undefined): Promise<RequestListener> {
  const options = { latencyScale: config.latencyScale };
  if (config.framework === 'express') {
    const { createExpressApp } = await import('./express-app.js');
    return createExpressApp({ ...options, metrics: metrics?.middleware as RequestHandler | undefined });
  }
  const { createKoaApp } = await import('./koa-app.js');
  return createKoaApp({ ...options, metrics: metrics?.middleware as Middleware | undefined }).callback();
}

function listen(server: Server, config: BackendConfig): void {
  server.once('error', (error: NodeJS.ErrnoException) => {
    console.error(
      `[backend] worker ${process.pid}: cannot listen on ${config.host}:${config.port}: ${error.code ?? error.message}`,
    );
    process.exit(1);
  });
  server.listen(config.port, config.host, () => {
    const address = server.address();
    const port = typeof address === 'object' && address !== null ? address.port : config.port;
    process.send?.({ type: LISTENING, port } satisfies ListeningMessage);
  });
}

function drainOnRequest(
  server: Server,
  config: BackendConfig,
  metrics: WorkerMetrics | undefined,
  state: { draining: boolean },
): void {
  const drain = () => {
    if (state.draining) return;
    state.draining = true;
    // close() stops accepting and lets in-flight requests finish. Keep-alive sockets would keep it open:
    // idle ones are closed now and, as their responses end, every 50 ms (Node adds a 1 s buffer to any
    // keep-alive timeout, too slow here). A stuck request is cut at the drain timeout.
    server.close(() => {
      metrics?.close();
      process.exit(0);
    });
    server.closeIdleConnections();
    setInterval(() => server.closeIdleConnections(), 50).unref();
    setTimeout(() => server.closeAllConnections(), config.drainTimeoutMs).unref();
  };
  process.on('message', (message) => {
    if (isMessage(message, SHUTDOWN)) drain();
  });
  process.once('SIGTERM', drain);
  process.once('SIGINT', drain);
  // The primary is gone (killed with SIGKILL): nobody will replace or stop us, so stop now.
  process.once('disconnect', drain);
}

async function main(): Promise<void> {
  const raw = process.env[WORKER_CONFIG_ENV];
  if (!raw || !process.send) throw new Error('dist/worker.js is started by the cluster primary: run dist/main.js');
  const { backend: config, metrics: metricsConfig } = JSON.parse(raw) as {
    backend: BackendConfig;
    metrics: MetricsConfig;
  };
  const metrics = metricsConfig.enabled
    ? await (await import('./worker-metrics.js')).setupWorkerMetrics(config.framework, metricsConfig)
    : undefined;
  const app = await handler(config, metrics);
  const state = { draining: false };
  // Which worker served a request (what a load balancer's "served by" header tells): the demo shows one
  // merged view of several processes, and its tests tell the processes apart by it.
  const servedBy = String(process.pid);
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    res.setHeader('X-Backend-Worker', servedBy);
    if (state.draining) res.setHeader('Connection', 'close'); // keep-alive clients reconnect to a live worker
    app(req, res);
  });
  drainOnRequest(server, config, metrics, state);
  listen(server, config);
}

main().catch((error: unknown) => {
  console.error(`[backend] worker ${process.pid} failed to start:`, error);
  process.exit(1);
});
