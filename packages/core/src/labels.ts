/**
 * The label values a request is recorded with, every rule in one place whichever way the request was seen
 * (node:http's channels, a 'close' listener, or timed by hand). They keep series cardinality bounded
 * whatever clients send (issue #4: scanners hitting random URLs or inventing methods must not create series).
 */
import type { ServerResponse } from 'node:http';

/** The `route` label of every request that matched no route. Route templates start with `/`, so it never collides. */
export const UNMATCHED_ROUTE = '<unmatched>';

/** The `method` label of a request whose method is not a standard HTTP method. */
export const OTHER_METHOD = '_OTHER';

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']);

/** Upper-case standard methods; any other method becomes {@link OTHER_METHOD}. */
export function normalizeMethod(method: string | undefined): string {
  if (!method) return OTHER_METHOD;
  if (METHODS.has(method)) return method; // what Node's parser gives: already upper case
  const m = method.toUpperCase();
  return METHODS.has(m) ? m : OTHER_METHOD;
}

// Status: which status a request is recorded with.

/** Status recorded for a request whose client went away before the response finished (nginx's convention). */
export const CLIENT_CLOSED_REQUEST = 499;

/** The status code a request is recorded with: anything outside 100-599 (a bug upstream) becomes 500. */
export function recordedStatus(status: number | undefined): number {
  return status !== undefined && Number.isInteger(status) && status >= 100 && status <= 599 ? status : 500;
}

const STATUS_LABELS: string[] = [];

/** {@link recordedStatus} as a label value. */
export function statusLabel(status: number | undefined): string {
  const code = recordedStatus(status);
  // The same string object each time: one number-to-string conversion per status, not per request.
  let label = STATUS_LABELS[code];
  if (label === undefined) STATUS_LABELS[code] = label = String(code);
  return label;
}

/** The status the client received from a response that is over (finished or closed). */
export function outcomeStatus(res: ServerResponse): number {
  if (res.writableFinished) return sentStatus(res);
  // Closed before the end: `errored` is set when the server destroyed the response with an error (e.g. a
  // streamed body failed after the headers went out), and stays unset when the client hung up.
  return res.errored ? 500 : CLIENT_CLOSED_REQUEST;
}

/**
 * The status of a response node:http finished sending. Reflect.get, not `res.statusCode`: an Express
 * response has a hidden class of its own, so a plain read misses the inline cache every time, and the miss
 * (V8's runtime updating the cache) cost 1.6% of an Express request's CPU time; Reflect.get looks the
 * property up without any cache (measured: 0).
 */
export function sentStatus(res: ServerResponse): number {
  return Reflect.get(res, 'statusCode') as number;
}

/** Node drops the body of HEAD responses and of 1xx/204/304 responses, whatever the app writes. */
export function hasBody(method: string | undefined, statusCode: number): boolean {
  return method !== 'HEAD' && statusCode >= 200 && statusCode !== 204 && statusCode !== 304;
}
