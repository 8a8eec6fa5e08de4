import type { Server } from 'node:http';
import { ConfigError, type MetricsStore, openStore, StoreError } from '@kci-metrics/sqlite-store';
import { type AuthConfig, parseAuthConfig } from './auth.js';
import { loadAggregatorConfig } from './config.js';
import { createAggregatorServer } from './server.js';
import { type AggregatorLogger, consoleLogger, describeError } from './store-watch.js';

/** Options of {@link startAggregator}; each one left out is read from the environment, as the command does. */
export interface StartAggregatorOptions {
  /** Port, 0-65535 (0: any free port). Default `PROMETHEUS_METRICS_PORT`, else 8001. */
  port?: number;
  /** Bind address. Default `PROMETHEUS_METRICS_HOST`, else `0.0.0.0`. */
  host?: string;
  /** The store directory the workers write to. Default `PROMETHEUS_MULTIPROC_DIR`, else `/tmp/prometheus_multiproc_dir`. */
  dir?: string;
  /** Scrape authentication. Default: from the bearer token or basic auth variables, as {@link parseAuthConfig} reads them. */
  auth?: AuthConfig;
  /** Where the defaults come from. Default `process.env`. */
  env?: Record<string, string | undefined>;
  /** Default: the console (`info` to stdout, `warn` and `error` to stderr). */
  logger?: AggregatorLogger;
  /** How long open scrapes may take to finish after `close()` before they are cut. Default 3000 ms. */
  shutdownGraceMs?: number;
}

/** A running aggregator. */
export interface RunningAggregator {
  /** Where Prometheus scrapes it, e.g. `http://127.0.0.1:8001/metrics/`. */
  readonly url: string;
  /** The bound port (the real one when 0 was asked for). */
  readonly port: number;
  readonly host: string;
  /** Stop listening, let open scrapes finish (cut after the grace period), close the store. */
  close(): Promise<void>;
}

/**
 * Start the aggregator's HTTP server in this process: the same server, environment variables and start-up
 * checks as the `kci-metrics-aggregator` command. Rejects with a {@link ConfigError} for an invalid variable or
 * option (the command's exit code 2), and with an Error whose message says what went wrong when the store
 * cannot be opened or the address bound (exit code 1).
 *
 * @example
 * import { startAggregator } from '@kci-metrics/aggregator';
 * const aggregator = await startAggregator({ port: 8001, host: '127.0.0.1' });
 * console.log(`metrics at ${aggregator.url}`);
 * process.once('SIGTERM', () => void aggregator.close());
 */
export async function startAggregator(options: StartAggregatorOptions = {}): Promise<RunningAggregator> {
  const env = options.env ?? process.env;
  const logger = options.logger ?? consoleLogger;
  const config = loadAggregatorConfig({
    ...env,
    // Options win over the environment; a bad option must not be reported as a bad variable.
    ...(options.port === undefined ? {} : { PROMETHEUS_METRICS_PORT: undefined }),
    ...(options.host === undefined ? {} : { PROMETHEUS_METRICS_HOST: undefined }),
    ...(options.dir === undefined ? {} : { PROMETHEUS_MULTIPROC_DIR: undefined }),
  });
  const port = options.port ?? config.port;
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new ConfigError('option port', port, 'an integer 0-65535');
  const host = options.host ?? config.host;
  if (typeof host !== 'string' || host === '') throw new ConfigError('option host', host, 'an IP address or host name');
  const dir = options.dir ?? config.multiprocDir;
  if (typeof dir !== 'string' || dir === '') throw new ConfigError('option dir', dir, 'a directory path');
  const grace = options.shutdownGraceMs ?? 3_000;
  if (!Number.isInteger(grace) || grace < 0) throw new ConfigError('option shutdownGraceMs', grace, 'an integer >= 0');
  const auth = options.auth ?? parseAuthConfig(env);

  const store = open(dir);
  const server = createAggregatorServer({ store, auth, logger });
  let bound: number;
  try {
    bound = await listen(server, port, host);
  } catch (error) {
    store.close();
    throw error;
  }
  const url = metricsUrl(host, bound);
  logger.info(`aggregator listening on ${url} (store ${dir})`);
  server.on('error', (error) => logger.error(`aggregator server error: ${describeError(error)}`));

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      const cut = setTimeout(() => server.closeAllConnections(), grace);
      cut.unref();
      server.close(() => {
        clearTimeout(cut);
        store.close();
        resolve();
      });
      server.closeIdleConnections();
    });
    return closing;
  };
  return { url, port: bound, host, close };
}

/**
 * Open the store and make sure the SQLite driver loads: a missing or mismatched better-sqlite3 build would
 * otherwise surface only as a 503 at every scrape. Other read failures (a lock, a file being replaced) are
 * left to the scrapes, which answer 503 until the store heals.
 */
function open(dir: string): MetricsStore {
  let store: MetricsStore;
  try {
    store = openStore({ dir });
  } catch (error) {
    throw new Error(`cannot open the metrics store in ${dir}: ${describeError(error)}`, { cause: error });
  }
  try {
    store.health();
  } catch (error) {
    if (error instanceof StoreError && error.code === 'STORE_DRIVER_UNAVAILABLE') {
      store.close();
      throw new Error(`cannot open the metrics store in ${dir}: ${error.message}`, { cause: error });
    }
  }
  return store;
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      const reason = error.code === 'EADDRINUSE' ? 'the address is already in use' : error.message;
      reject(
        new Error(`cannot listen on ${metricsUrl(host, port)}: ${reason} (${error.code ?? 'error'})`, { cause: error }),
      );
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      const address = server.address();
      resolve(typeof address === 'object' && address !== null ? address.port : port);
    });
  });
}

function metricsUrl(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}/metrics/`;
}
