/** Reading the aggregator's exposition in tests. */

/** Count per `METHOD route status` of `http_request_duration_seconds_count` in a text exposition. */
export function requestCounts(text: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('http_request_duration_seconds_count{')) continue;
    const close = line.lastIndexOf('}');
    const labels = Object.fromEntries(
      [...line.slice(0, close).matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]),
    );
    const key = `${labels.method} ${labels.route} ${labels.status_code}`;
    counts.set(key, (counts.get(key) ?? 0) + Number(line.slice(close + 1).trim()));
  }
  return counts;
}

export function total(counts: Map<string, number>): number {
  let sum = 0;
  for (const n of counts.values()) sum += n;
  return sum;
}

export async function scrape(port: number): Promise<Map<string, number>> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics/`);
  if (response.status !== 200) throw new Error(`scrape answered ${response.status}`);
  return requestCounts(await response.text());
}

/** Poll until the aggregator answers (it starts beside the workers). */
export async function waitForAggregator(port: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await scrape(port);
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/**
 * Scrape until `done(counts)` holds (workers flush every interval), then return the last counts; the
 * caller asserts on them, so a timeout shows the difference instead of a bare "timed out".
 */
export async function scrapeUntil(
  port: number,
  done: (counts: Map<string, number>) => boolean,
  timeoutMs = 8_000,
): Promise<Map<string, number>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const counts = await scrape(port);
    if (done(counts) || Date.now() > deadline) return counts;
    await new Promise((r) => setTimeout(r, 100));
  }
}
