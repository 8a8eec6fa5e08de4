/**
 * Label values that keep series cardinality bounded whatever clients send (issue #4: scanners hitting
 * random URLs or inventing methods must not create series).
 */

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

const STATUS_LABELS: string[] = [];

/** The status code a request is recorded with: anything outside 100-599 (a bug upstream) becomes 500. */
export function recordedStatus(status: number | undefined): number {
  return status !== undefined && Number.isInteger(status) && status >= 100 && status <= 599 ? status : 500;
}

/** {@link recordedStatus} as a label value. */
export function statusLabel(status: number | undefined): string {
  const code = recordedStatus(status);
  // The same string object each time: one number-to-string conversion per status, not per request.
  let label = STATUS_LABELS[code];
  if (label === undefined) STATUS_LABELS[code] = label = String(code);
  return label;
}

/** Status recorded for a request whose client went away before the response finished (nginx's convention). */
export const CLIENT_CLOSED_REQUEST = 499;
