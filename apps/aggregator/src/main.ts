/**
 * The aggregator process: `node dist/main.js` (or `pnpm --filter aggregator start`).
 *
 * Exit codes: 0 after SIGTERM/SIGINT (or when the parent that forked it goes away), 1 when the store cannot be
 * opened or the address cannot be bound, 2 for an invalid environment variable. Start-up errors are one line on
 * stderr naming the variable and the value (or the address and the reason), never a stack trace.
 */
import type { Server } from 'node:http';
import { ConfigError, loadConfig, type MetricsConfig } from '@kci-metrics/core';
import { type MetricsStore, openStore } from '@kci-metrics/sqlite-store';
import { type AuthConfig, parseAuthConfig } from './auth.js';
import { createAggregatorServer } from './server.js';
import { consoleLogger, describeError } from './store-watch.js';

const logger = consoleLogger;
// Connections still open this long after a stop signal are cut, so a stuck scraper cannot delay a restart.
const SHUTDOWN_GRACE_MS = 3_000;

function fail(message: string, exitCode: number): never {
  process.stderr.write(`aggregator: ${message}\n`);
  process.exit(exitCode);
}

function readConfig(): { config: MetricsConfig; auth: AuthConfig } {
  try {
    return { config: loadConfig(process.env), auth: parseAuthConfig(process.env) };
  } catch (error) {
    if (error instanceof ConfigError) fail(error.message, 2);
    throw error;
  }
}

function open(dir: string): MetricsStore {
  try {
    return openStore({ dir });
  } catch (error) {
    fail(`cannot open the metrics store in ${dir}: ${describeError(error)}`, 1);
  }
}

function url(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}/metrics/`;
}

function listen(server: Server, config: MetricsConfig, store: MetricsStore): void {
  server.once('error', (error: NodeJS.ErrnoException) => {
    const reason = error.code === 'EADDRINUSE' ? 'the address is already in use' : error.message;
    store.close();
    fail(`cannot listen on ${url(config.host, config.port)}: ${reason} (${error.code ?? 'error'})`, 1);
  });
  server.listen(config.port, config.host, () => {
    server.removeAllListeners('error');
    server.on('error', (error) => logger.error(`aggregator server error: ${describeError(error)}`));
    logger.info(`aggregator listening on ${url(config.host, config.port)} (store ${config.multiprocDir})`);
  });
}

function stopOn(server: Server, store: MetricsStore): void {
  let stopping = false;
  const stop = (reason: string) => {
    if (stopping) return;
    stopping = true;
    logger.info(`aggregator stopping (${reason})`);
    server.close(() => {
      store.close();
      process.exit(0);
    });
    server.closeIdleConnections();
    setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS).unref();
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  // Forked by a cluster primary (child_process.fork): stop with it, or an orphan would keep the port bound
  // and the primary's next start would fail with EADDRINUSE.
  if (process.connected) process.once('disconnect', () => stop('parent process exited'));
}

const { config, auth } = readConfig();
const store = open(config.multiprocDir);
const server = createAggregatorServer({ store, auth, logger });
listen(server, config, store);
stopOn(server, store);
