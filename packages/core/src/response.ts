import type { IncomingMessage, ServerResponse } from 'node:http';
import { hasBody, outcomeStatus } from './labels.js';

/** How a node:http exchange ended, as the client saw it. */
export interface ResponseOutcome {
  /** The status sent; 499 when the client went away first; 500 when the server broke the response off. */
  statusCode: number;
  /** Request body bytes received (only with `requestSizes`). */
  requestBytes?: number;
  /** Response body bytes written for the client (only with `responseSizes`). */
  responseBytes?: number;
}

/** Which sizes to measure; measuring costs a wrapper around `res.write`/`res.end` or `req.push`. */
export interface ResponseWatchOptions {
  requestSizes?: boolean;
  responseSizes?: boolean;
}

/**
 * Call `done` exactly once, when the response is over: Node emits 'close' on every response, right after
 * 'finish' (last byte handed to the OS) or when the connection closes first. Ending there rather than
 * when the handler returns is what makes durations cover streamed bodies (issue #4). The Koa and
 * Express adapters share it so both report the same status for the same exchange.
 * `done` runs inside a try/catch: metrics must never take the web app down.
 *
 * @example
 * const timer = recorder.start(req.method);
 * onResponseDone(req, res, { responseSizes: true }, (outcome) => timer.end({ route, ctx: req, ...outcome }));
 */
export function onResponseDone(
  req: IncomingMessage,
  res: ServerResponse,
  options: ResponseWatchOptions,
  done: (outcome: ResponseOutcome) => void,
): void {
  const requestBytes = options.requestSizes ? countRequestBody(req) : undefined;
  const responseBytes = options.responseSizes ? countResponseBody(res) : undefined;
  let settled = false;
  const settle = (statusCode: number) => {
    if (settled) return;
    settled = true;
    const outcome: ResponseOutcome = { statusCode };
    if (requestBytes) outcome.requestBytes = requestBytes();
    if (responseBytes) outcome.responseBytes = hasBody(req.method, statusCode) ? responseBytes() : 0;
    try {
      done(outcome);
    } catch {
      // a failing metric must not become an 'uncaughtException' in the web app
    }
  };
  whenClosed(res, settle);
}

/**
 * Call `fn` with the status the client received once the response is over: on its 'close', which Node
 * emits on every response, right after 'finish' or when the connection closes first; on the next tick
 * when it was destroyed before this call. `fn` must not throw (it runs in the response's event handler).
 */
export function whenClosed(res: ServerResponse, fn: (statusCode: number) => void): void {
  const closed = () => fn(outcomeStatus(res));
  // A response destroyed before this point has already emitted its 'close'.
  if (res.destroyed) process.nextTick(closed);
  else res.on('close', closed); // on(), not once(): the callers run once anyway, and once() wraps per request
}

function chunkBytes(chunk: unknown, encoding: unknown): number {
  if (typeof chunk === 'string') {
    return Buffer.byteLength(chunk, Buffer.isEncoding(encoding as string) ? (encoding as BufferEncoding) : 'utf8');
  }
  return ArrayBuffer.isView(chunk) ? chunk.byteLength : 0;
}

/**
 * Count the body bytes passed to `res.write`/`res.end` (Node's `end` does not call `write`, so nothing is
 * counted twice). Middleware installed after ours that transforms the body (compression) calls our
 * wrapper with what it really sends.
 */
export function countResponseBody(res: ServerResponse): () => number {
  let bytes = 0;
  const { write, end } = res;
  const open = () => !res.writableEnded && !res.destroyed;
  res.write = function (this: ServerResponse, ...args: unknown[]) {
    if (open()) bytes += chunkBytes(args[0], args[1]);
    return (write as (...a: unknown[]) => boolean).apply(this, args);
  } as ServerResponse['write'];
  res.end = function (this: ServerResponse, ...args: unknown[]) {
    if (open() && typeof args[0] !== 'function') bytes += chunkBytes(args[0], args[1]);
    return (end as (...a: unknown[]) => ServerResponse).apply(this, args);
  } as ServerResponse['end'];
  return () => bytes;
}

/**
 * Count the body bytes the HTTP parser hands to the request stream, whether or not the app reads them.
 * A complete request with a Content-Length carries exactly that many bytes, which also covers a body
 * that arrived before this middleware ran.
 */
export function countRequestBody(req: IncomingMessage): () => number {
  let bytes = req.readableLength;
  const push = req.push;
  req.push = function (this: IncomingMessage, chunk: unknown, encoding?: BufferEncoding) {
    if (chunk !== null) bytes += chunkBytes(chunk, encoding);
    return push.call(this, chunk, encoding);
  };
  return () => {
    const declared = Number(req.headers['content-length']);
    return req.complete && Number.isSafeInteger(declared) && declared >= 0 ? declared : bytes;
  };
}
