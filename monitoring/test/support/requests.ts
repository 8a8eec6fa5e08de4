/** Known traffic for the end-to-end tests: requests sent, answers checked, expected totals per endpoint. */

/** `count` identical requests, and what the backend must answer and record for them. */
export interface PlannedRequests {
  method: 'GET' | 'POST';
  path: string;
  /** The `route` label the metrics middleware records (`<unmatched>` for no route). */
  route: string;
  status: number;
  count: number;
}

/** `"METHOD route"`: the key the tests use for a per-endpoint panel's rows. */
export const endpointKey = (labels: { method?: string; route?: string }): string => `${labels.method} ${labels.route}`;

/**
 * Send every planned request to `baseUrl`, at most `concurrency` at a time, and check each status. All
 * answers have arrived (bodies read) when it resolves; a wrong status rejects naming the request.
 *
 * @example
 * await sendPlanned(backend.apiUrl, [{ method: 'GET', path: '/api/tree/', route: '/api/tree/', status: 200, count: 5 }]);
 */
export async function sendPlanned(baseUrl: string, plan: readonly PlannedRequests[], concurrency = 6): Promise<void> {
  const queue = plan.flatMap((p) => Array.from({ length: p.count }, () => p));
  const failures: string[] = [];
  const worker = async () => {
    for (let next = queue.shift(); next; next = queue.shift()) {
      const { method, path, status } = next;
      const response = await fetch(`${baseUrl}${path}`, {
        method,
        ...(method === 'POST' ? { body: '{}', headers: { 'content-type': 'application/json' } } : {}),
      });
      await response.arrayBuffer();
      if (response.status !== status) failures.push(`${method} ${path}: expected ${status}, got ${response.status}`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  if (failures.length > 0) throw new Error(`Unexpected answers from ${baseUrl}:\n${failures.join('\n')}`);
}

/**
 * Requests per endpoint (`"METHOD route"`), every status together, as Total Calls counts them.
 * `<unmatched>` is included when `withUnmatched` is set (the raw metric), left out otherwise (the panels).
 */
export function expectedCalls(plan: readonly PlannedRequests[], withUnmatched = false): Record<string, number> {
  const totals: Record<string, number> = {};
  for (const p of plan) {
    if (p.route === '<unmatched>' && !withUnmatched) continue;
    const key = endpointKey(p);
    totals[key] = (totals[key] ?? 0) + p.count;
  }
  return totals;
}

/** The plan split in two: one request of each line first (to create every series), then the rest. */
export function splitFirst(plan: readonly PlannedRequests[]): [PlannedRequests[], PlannedRequests[]] {
  return [
    plan.map((p) => ({ ...p, count: Math.min(1, p.count) })),
    plan.map((p) => ({ ...p, count: Math.max(0, p.count - 1) })),
  ];
}

/** Add up several plans' expected calls (several hosts). */
export function sumCalls(...totals: Array<Record<string, number>>): Record<string, number> {
  const sum: Record<string, number> = {};
  for (const t of totals) for (const [key, n] of Object.entries(t)) sum[key] = (sum[key] ?? 0) + n;
  return sum;
}
