/** The traffic generator's loop: bounded by a request count and a deadline, paced, with a per-route tally. */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TrafficOptions } from './traffic-options.js';
import { type PlannedRequest, trafficPlan } from './traffic-plan.js';

export interface TrafficResult {
  /** Responses per `METHOD route` and status code. */
  byRoute: Map<string, Map<number, number>>;
  responses: number;
  /** Requests that got no HTTP response (connection refused, reset). */
  failures: number;
  firstFailure?: string;
  seconds: number;
}

/**
 * Send `options.requests` planned requests (or fewer, when the duration runs out) and count the answers.
 *
 * @example
 * const result = await runTraffic({ target: new URL('http://127.0.0.1:8000'), requests: 100, concurrency: 4, durationS: 60, rate: 0 });
 */
export async function runTraffic(
  options: TrafficOptions,
  plan: Iterator<PlannedRequest> = trafficPlan(),
): Promise<TrafficResult> {
  const result: TrafficResult = { byRoute: new Map(), responses: 0, failures: 0, seconds: 0 };
  const started = performance.now();
  const deadline = started + options.durationS * 1000;
  let issued = 0;

  const next = (): PlannedRequest | undefined => {
    if (issued >= options.requests || performance.now() >= deadline) return undefined;
    issued += 1;
    return plan.next().value as PlannedRequest;
  };

  const loop = async () => {
    for (let request = next(); request; request = next()) {
      if (options.rate > 0) {
        const due = started + ((issued - 1) * 1000) / options.rate;
        const wait = Math.min(due, deadline) - performance.now();
        if (wait > 0) await sleep(wait);
      }
      await send(options.target, request, result);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, loop));
  result.seconds = (performance.now() - started) / 1000;
  return result;
}

async function send(target: URL, request: PlannedRequest, result: TrafficResult): Promise<void> {
  try {
    const response = await fetch(new URL(request.url, target), {
      method: request.method,
      // Each request is a trace of its own, as behind a tracing proxy: the demo records its id as an exemplar.
      headers: {
        traceparent: `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`,
        ...(request.body ? { 'content-type': 'application/json' } : {}),
      },
      body: request.body,
      signal: AbortSignal.timeout(30_000),
    });
    await response.arrayBuffer(); // read the body, so the connection is reused and the server's timing is complete
    const key = `${request.method} ${request.route}`;
    const statuses = result.byRoute.get(key) ?? new Map<number, number>();
    statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
    result.byRoute.set(key, statuses);
    result.responses += 1;
  } catch (error) {
    result.failures += 1;
    result.firstFailure ??= describe(error);
  }
}

function describe(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error));
}
