import { createServer, type IncomingMessage, type Server, type ServerResponse, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { MetricsStore } from '@kci-metrics/sqlite-store';
import { OPENMETRICS_CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE } from '@kci-metrics/sqlite-store';
import { type AuthConfig, authChallenge, isAuthorized } from './auth.js';
import { acceptsGzip, chooseFormat } from './negotiate.js';
import { Scraper } from './scrape.js';
import { type AggregatorLogger, consoleLogger, describeError, StoreWatch } from './store-watch.js';

/** Time limits that keep slow or idle clients from holding sockets (and memory) for long. */
export interface AggregatorTimeouts {
  /** Time a client has to send the complete request headers. Default 10 000 ms. */
  headersMs?: number;
  /** Time a client has to send the whole request. Default 30 000 ms. */
  requestMs?: number;
  /** How long an idle keep-alive connection stays open between scrapes. Default 5 000 ms. */
  keepAliveMs?: number;
  /** How long a socket may see no traffic at all (e.g. a client that stops reading the answer). Default 60 000 ms. */
  idleMs?: number;
}

export interface AggregatorServerOptions {
  /** The store to serve (aggregator side: opened, never attached). */
  store: MetricsStore;
  /** Scrape authentication; default none. See {@link parseAuthConfig}. */
  auth?: AuthConfig;
  /** Default: the console. */
  logger?: AggregatorLogger;
  timeouts?: AggregatorTimeouts;
  /** Connections held at once; more are refused until some close. Default 256. */
  maxConnections?: number;
}

const METRICS_PATHS = new Set(['/metrics', '/metrics/']);

/**
 * Create the aggregator's HTTP server (not listening yet). It serves the store's merged exposition plus the
 * aggregator's own metrics at `GET`/`HEAD` `/metrics` and `/metrics/`, in the Prometheus text format or
 * OpenMetrics as the `Accept` header asks, gzip-compressed when accepted. Anything else gets a short
 * plain-text answer (401, 404, 405, 503) without stack traces or internal paths.
 *
 * @example
 * const store = openStore({ dir: '/tmp/prometheus_multiproc_dir' });
 * const server = createAggregatorServer({ store, auth: parseAuthConfig() });
 * server.listen(8001, '0.0.0.0');
 */
export function createAggregatorServer(options: AggregatorServerOptions): Server {
  const auth = options.auth ?? { kind: 'none' };
  const logger = options.logger ?? consoleLogger;
  const timeouts = options.timeouts ?? {};
  const scraper = new Scraper(options.store, new StoreWatch(logger));

  const server = createServer({
    headersTimeout: timeouts.headersMs ?? 10_000,
    requestTimeout: timeouts.requestMs ?? 30_000,
    keepAliveTimeout: timeouts.keepAliveMs ?? 5_000,
    // Node checks the two timeouts above only this often (default 30 s); check every second so they hold.
    connectionsCheckingInterval: Math.min(1_000, timeouts.headersMs ?? 1_000),
  });
  server.maxConnections = options.maxConnections ?? 256;
  server.setTimeout(timeouts.idleMs ?? 60_000);

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res, scraper, auth).catch((error: unknown) => {
      logger.error(`unexpected error answering ${req.method} /metrics: ${describeError(error)}`);
      if (!res.headersSent) plain(req, res, 500, 'internal error (see the aggregator log)');
      else res.destroy();
    });
  });
  server.on('clientError', onClientError);
  return server;
}

async function handle(req: IncomingMessage, res: ServerResponse, scraper: Scraper, auth: AuthConfig): Promise<void> {
  // A client that goes away mid-request must not become an unhandled 'error' event.
  req.on('error', () => {});
  // Request bodies are never read; close the connection after answering so an unread body cannot linger.
  if (req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined) {
    res.shouldKeepAlive = false;
  }
  // Exact match on the raw path: no decoding, no normalisation, so `/metrics/../x` and `%2e%2e` are just 404s.
  if (!METRICS_PATHS.has(requestPath(req.url)))
    return plain(req, res, 404, 'not found: metrics are served at /metrics/');
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    return plain(req, res, 405, 'method not allowed: use GET or HEAD');
  }
  if (!isAuthorized(auth, req.headers.authorization)) {
    res.setHeader('WWW-Authenticate', authChallenge(auth) ?? 'Bearer');
    return plain(req, res, 401, 'unauthorized: this endpoint needs credentials');
  }

  const result = await scraper.scrape(chooseFormat(req.headers.accept));
  if (!result.ok) return plain(req, res, result.status, result.message);
  const { exposition } = result;
  const gzip = acceptsGzip(req.headers['accept-encoding']);
  const chunks = await exposition.chunks(gzip);
  if (res.destroyed) return;
  res.statusCode = 200;
  res.setHeader(
    'Content-Type',
    exposition.format === 'openmetrics' ? OPENMETRICS_CONTENT_TYPE : PROMETHEUS_CONTENT_TYPE,
  );
  res.setHeader('Vary', 'Accept, Accept-Encoding');
  res.setHeader('Cache-Control', 'no-store');
  if (gzip) res.setHeader('Content-Encoding', 'gzip');
  res.setHeader(
    'Content-Length',
    chunks.reduce((n, c) => n + c.length, 0),
  );
  if (req.method === 'HEAD') res.end();
  else {
    // One write to the socket for all of them (a gzip body is a member per chunk: hundreds at S=100000).
    res.cork();
    for (const chunk of chunks.slice(0, -1)) res.write(chunk);
    res.end(chunks.at(-1));
  }
}

/** The path of a request target, without query string; absolute-form targets (RFC 9112 §3.2.2) lose their origin. */
export function requestPath(url: string | undefined): string {
  let target = url ?? '';
  const origin = /^https?:\/\/[^/?#]*/i.exec(target);
  if (origin !== null) target = target.slice(origin[0].length) || '/';
  const end = target.search(/[?#]/);
  return end < 0 ? target : target.slice(0, end);
}

function plain(req: IncomingMessage, res: ServerResponse, status: number, message: string): void {
  const body = Buffer.from(`${message}\n`, 'utf8');
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.setHeader('Content-Length', body.length);
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  if (req.method === 'HEAD') res.end();
  else res.end(body);
}

/**
 * Malformed requests (bad method, broken syntax, headers over 16 KB, too slow) never reach the request handler.
 * Answer them in plain text like Node's default would, then drop the socket: nothing of the request is
 * trusted, and nothing is echoed back.
 */
function onClientError(error: NodeJS.ErrnoException, socket: Socket): void {
  const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  const inFlight = (socket as Socket & { _httpMessage?: ServerResponse })._httpMessage;
  if (error.code !== 'ECONNRESET' && socket.writable && (inFlight === undefined || !inFlight.headersSent)) {
    const body = `${STATUS_CODES[status] ?? 'Bad Request'}\n`;
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nConnection: close\r\n` +
        `Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}
