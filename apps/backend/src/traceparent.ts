/**
 * The demo's exemplars: the trace id of the W3C Trace Context `traceparent` header
 * (https://www.w3.org/TR/trace-context/#traceparent-header), so each latency bucket of the dashboard links
 * to a trace. `00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`, lower-case; an all-zero trace or
 * parent id, version `ff`, or anything else malformed gives no exemplar. A later version may append
 * fields after a `-` (the spec's forward compatibility); version 00 may not.
 */
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}(-.*)?$/;
const ZEROS = /^0+$/;

/** The trace id of a `traceparent` header value, or undefined when it is absent or malformed. */
export function traceIdOf(header: string | readonly string[] | undefined): string | undefined {
  if (typeof header !== 'string') return undefined; // absent, or sent twice: ambiguous, so none
  const match = TRACEPARENT.exec(header.trim());
  if (match === null) return undefined;
  const [, version, traceId, parentId, rest] = match as unknown as [string, string, string, string, string?];
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  if (ZEROS.test(traceId) || ZEROS.test(parentId)) return undefined;
  return traceId;
}

/**
 * The `exemplars` option of the demo's adapters: `{ trace_id }` from the request's `traceparent` header.
 * Koa hands over its context, Express its request; both carry the node:http headers.
 *
 * @example
 * koaMetrics({ exemplars: traceExemplar });
 */
export function traceExemplar(request: { headers: Record<string, string | string[] | undefined> }) {
  const traceId = traceIdOf(request.headers.traceparent);
  return traceId === undefined ? undefined : { trace_id: traceId };
}
