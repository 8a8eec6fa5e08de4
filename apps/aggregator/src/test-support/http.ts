import { request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { type AggregatorServerOptions, createAggregatorServer } from '../server.js';
import type { AggregatorLogger } from '../store-watch.js';

/** A logger that keeps every line, to assert what was logged and how often. */
export class MemoryLogger implements AggregatorLogger {
  readonly lines: string[] = [];
  info(message: string): void {
    this.lines.push(`info ${message}`);
  }
  warn(message: string): void {
    this.lines.push(`warn ${message}`);
  }
  error(message: string): void {
    this.lines.push(`error ${message}`);
  }
  count(pattern: RegExp): number {
    return this.lines.filter((line) => pattern.test(line)).length;
  }
}

export interface RunningServer {
  server: Server;
  port: number;
  logger: MemoryLogger;
  close(): Promise<void>;
}

/** Start an aggregator server on a loopback ephemeral port. */
export async function startServer(options: Omit<AggregatorServerOptions, 'logger'>): Promise<RunningServer> {
  const logger = new MemoryLogger();
  const server = createAggregatorServer({ ...options, logger });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    server,
    port,
    logger,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  text: string;
}

/** One HTTP request on a fresh connection; the body is returned as received (not decompressed). */
export function get(
  port: number,
  path = '/metrics/',
  options: { method?: string; headers?: Record<string, string> } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, path, method: options.method ?? 'GET', headers: options.headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text: body.toString('utf8') });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/**
 * Send raw bytes on a TCP connection and collect what comes back until the server closes the connection.
 * `pauseMs` spreads the chunks out in time (a slow client).
 */
export function raw(port: number, chunks: Array<string | Buffer>, pauseMs = 0): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const received: Buffer[] = [];
    let index = 0;
    const sendNext = () => {
      if (index >= chunks.length || socket.destroyed) return;
      const chunk = chunks[index++] as string | Buffer;
      socket.write(chunk, () => (pauseMs > 0 ? setTimeout(sendNext, pauseMs) : sendNext()));
    };
    socket.on('connect', sendNext);
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    // A reset after the answer is fine: what matters is what arrived before it.
    socket.on('error', () => {});
    socket.on('close', () => resolve(Buffer.concat(received).toString('latin1')));
  });
}
