/**
 * The framework-neutral request handling both apps share: synthetic latency, synthetic failures and the
 * JSON body of a route. The Koa and Express apps only translate requests and responses.
 */
import type { IncomingMessage } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Route } from './routes.js';
import { Rng, routeLatencyMs } from './synthetic.js';
import type { ResourceInput } from './tree-resources.js';

/** An error with the HTTP status it should be answered with. */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The failure `error` parameters provoke; expected, so the apps do not log it. */
export class SyntheticError extends Error {
  override readonly name = 'SyntheticError';
}

export interface RouteResponse {
  status: number;
  body: unknown;
}

/**
 * Magic parameter values that let the traffic generator and the tests produce the failures a dashboard
 * should show: `error` throws (500 from the framework's error path), `missing` answers 404 from a matched
 * route, `slow` adds one second (to have requests in flight during a drain).
 */
export const MAGIC = { error: 'error', missing: 'missing', slow: 'slow' } as const;
const SLOW_MS = 1000;

/**
 * Answer one request of `route`.
 *
 * @example
 * const { status, body } = await respond(ROUTES[0], { params: {}, query: {}, body: undefined }, 1);
 */
export async function respond(route: Route, input: ResourceInput, latencyScale: number): Promise<RouteResponse> {
  const values = [...Object.values(input.params), ...Object.values(input.query)];
  const latency = routeLatencyMs(route.path, latencyScale) + (values.includes(MAGIC.slow) ? SLOW_MS : 0);
  if (latency > 0) await sleep(latency);
  if (values.includes(MAGIC.error)) throw new SyntheticError(`Synthetic failure of ${route.method} ${route.path}`);
  if (values.includes(MAGIC.missing)) return { status: 404, body: { error: 'Not found' } };
  const seed = `${route.method} ${route.path} ${JSON.stringify(input.params)} ${JSON.stringify(input.query)}`;
  return { status: 200, body: route.build(new Rng(seed), input) };
}

/** Express 5 hands a `*name` parameter over as an array of segments, Koa as one string: join to one form. */
export function normalizeParams(
  params: Readonly<Record<string, string | string[] | undefined>>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined) out[key] = Array.isArray(value) ? value.join('/') : value;
  }
  return out;
}

/** The first value of each query parameter. */
export function firstValues(query: URLSearchParams): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of query) if (!(key in out)) out[key] = value;
  return out;
}

const BODY_LIMIT = 64 * 1024;

/**
 * Read a JSON request body (the POST routes take filters as JSON). An empty body is `{}`; a body that is
 * not a JSON object answers 400, one over 64 KiB answers 413.
 */
export async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > BODY_LIMIT) throw new HttpError(413, `Request body over ${BODY_LIMIT} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return {};
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new HttpError(400, 'Request body is not valid JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new HttpError(400, 'Request body must be a JSON object');
  return body;
}

/**
 * The status and JSON body an error is answered with; unexpected errors are 500 without details, and are
 * logged (synthetic failures are not: the traffic generator provokes them on purpose).
 */
export function errorResponse(error: unknown): RouteResponse {
  if (error instanceof HttpError) return { status: error.status, body: { error: error.message } };
  if (!(error instanceof SyntheticError)) console.error('[backend] request failed:', error);
  return { status: 500, body: { error: 'Internal server error' } };
}

/** The answer to a request that matched no route (the same in both frameworks). */
export const NOT_FOUND: RouteResponse = { status: 404, body: { error: 'Not found' } };
