/**
 * Client-side load for the reliability tests: loops of concurrent requests that record when each response
 * arrived, so a test can count what was served in any time window (during a store lock, around a kill).
 */
import { Agent, request } from 'node:http';

/** GET routes of the demo that answer 200 with synthetic JSON. */
export const LOAD_PATHS = ['/api/tree/', '/api/origins/', '/api/hardware/', '/api/issue/'];

export interface Reply {
  status: number;
  /** performance.now() when the whole response had arrived. */
  at: number;
}

/**
 * One request over a new connection (`Connection: close`), so node:cluster spreads the connections over the
 * workers and a killed worker takes no kept-alive socket of ours with it. Rejects on a network error.
 */
export function get(
  port: number,
  path: string,
  options: { method?: string; agent?: Agent; timeoutMs?: number } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, method: options.method ?? 'GET', agent: options.agent ?? false },
      (res) => {
        res.resume();
        res.on('error', reject);
        res.on('end', () => resolve({ status: res.statusCode ?? 0, at: performance.now() }));
      },
    );
    req.on('error', reject);
    // A connection that node:cluster's primary handed to a worker killed at that moment is never answered nor
    // closed (the primary keeps its handle): a client gives up on it, as any client with a timeout would.
    req.setTimeout(options.timeoutMs ?? 5_000, () =>
      req.destroy(Object.assign(new Error('no answer in time'), { code: 'TIMEOUT' })),
    );
    req.end();
  });
}

export interface LoadResult {
  /** Arrival time of every response, in order. */
  times: number[];
  /** Milliseconds each of those responses took, from the request's start (connection included). */
  latencies: number[];
  /** Responses whose status was not 200, as `status path`. */
  notOk: string[];
  /** Requests that got no response (connection reset by a killed worker, or none in time), as error codes. */
  errors: string[];
}

/** A running load: `concurrency` loops over LOAD_PATHS until `stop()`. */
export class Load {
  readonly result: LoadResult = { times: [], latencies: [], notOk: [], errors: [] };
  private running = true;
  private readonly loops: Promise<void>[];

  constructor(
    private readonly port: number,
    private readonly options: { concurrency?: number; timeoutMs?: number } = {},
  ) {
    const concurrency = options.concurrency ?? 8;
    this.loops = Array.from({ length: concurrency }, (_, i) => this.loop(i));
  }

  private async loop(offset: number): Promise<void> {
    for (let n = offset; this.running; n++) {
      const path = LOAD_PATHS[n % LOAD_PATHS.length] as string;
      try {
        const sent = performance.now();
        const reply = await get(this.port, path, { timeoutMs: this.options.timeoutMs });
        this.result.times.push(reply.at);
        this.result.latencies.push(reply.at - sent);
        if (reply.status !== 200) this.result.notOk.push(`${reply.status} ${path}`);
      } catch (error) {
        this.result.errors.push((error as NodeJS.ErrnoException).code ?? String(error));
        await new Promise((r) => setTimeout(r, 5)); // no worker to answer for a moment: do not spin
      }
    }
  }

  /** Responses received so far. */
  get responses(): number {
    return this.result.times.length;
  }

  /** Responses that arrived in the window (from, to]. */
  between(from: number, to: number): number {
    return this.result.times.filter((t) => t > from && t <= to).length;
  }

  /** Latency percentiles (ms) of the responses that arrived in the window (from, to]. */
  latencyBetween(from: number, to: number): { p50: number; p99: number; max: number } {
    const sorted = this.result.latencies.filter((_, i) => {
      const t = this.result.times[i] as number;
      return t > from && t <= to;
    });
    sorted.sort((a, b) => a - b);
    const at = (q: number) =>
      Math.round((sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0) * 10) / 10;
    return { p50: at(0.5), p99: at(0.99), max: at(1) };
  }

  /** Stop the loops after their requests in flight; resolves with everything received. */
  async stop(): Promise<LoadResult> {
    this.running = false;
    await Promise.all(this.loops);
    return this.result;
  }
}

/** Send `paths` (with their methods), `concurrency` at a time over kept-alive connections; statuses in order. */
export async function sendAll(
  port: number,
  requests: ReadonlyArray<{ method: string; path: string }>,
  concurrency = 16,
): Promise<number[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const statuses: number[] = new Array(requests.length);
  let next = 0;
  const loop = async () => {
    while (next < requests.length) {
      const i = next++;
      const { method, path } = requests[i] as { method: string; path: string };
      statuses[i] = (await get(port, path, { method, agent })).status;
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, loop));
  } finally {
    agent.destroy();
  }
  return statuses;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Print one measurement as a JSON line the lead's report collects (`grep '^RELIABILITY'`). */
export function report(record: Record<string, unknown>): void {
  console.log(`RELIABILITY ${JSON.stringify(record)}`);
}
