/** Sending planned requests in tests and tallying what the metrics should show for them. */
import type { PlannedRequest } from '../traffic-plan.js';

export interface Answer {
  status: number;
  body: string;
  contentType: string | null;
}

export async function send(port: number, request: PlannedRequest): Promise<Answer> {
  const response = await fetch(`http://127.0.0.1:${port}${request.url}`, {
    method: request.method,
    headers: request.body ? { 'content-type': 'application/json' } : {},
    body: request.body,
  });
  return { status: response.status, body: await response.text(), contentType: response.headers.get('content-type') };
}

/** Send every request, `concurrency` at a time; the answers come back in the order of `requests`. */
export async function sendAll(port: number, requests: readonly PlannedRequest[], concurrency = 8): Promise<Answer[]> {
  const answers: Answer[] = new Array(requests.length);
  let next = 0;
  const loop = async () => {
    while (next < requests.length) {
      const i = next++;
      answers[i] = await send(port, requests[i] as PlannedRequest);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  return answers;
}

/** What `http_request_duration_seconds_count` should gain: one per answer, keyed `METHOD route status`. */
export function expectedCounts(
  requests: readonly PlannedRequest[],
  answers: readonly Answer[],
  into = new Map<string, number>(),
): Map<string, number> {
  requests.forEach((request, i) => {
    const key = `${request.method} ${request.route} ${answers[i]?.status}`;
    into.set(key, (into.get(key) ?? 0) + 1);
  });
  return into;
}
