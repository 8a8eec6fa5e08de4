/**
 * Restart delays for supervised processes (workers, the aggregator): a process that dies soon after it
 * started is restarted later and later, so a crash loop costs little CPU; one that ran long enough is
 * considered healthy and its next crash is replaced at once.
 */
export interface BackoffOptions {
  /** Delay after the second quick crash in a row; doubles with each further one. Default 100 ms. */
  initialMs?: number;
  /** Upper bound of the delay. Default 10 s. */
  maxMs?: number;
  /** A process that ran this long resets the count of quick crashes. Default 10 s. */
  stableMs?: number;
}

/**
 * Track one supervised slot (one worker index, or the aggregator).
 *
 * @example
 * const backoff = new RestartBackoff();
 * backoff.started();                        // when the process is spawned
 * setTimeout(respawn, backoff.crashed());   // when it exits unexpectedly
 */
export class RestartBackoff {
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly stableMs: number;
  private quickCrashes = 0;
  private startedAt = 0;

  constructor(options: BackoffOptions = {}) {
    this.initialMs = options.initialMs ?? 100;
    this.maxMs = options.maxMs ?? 10_000;
    this.stableMs = options.stableMs ?? 10_000;
  }

  /** The process was (re)started now. */
  started(now = Date.now()): void {
    this.startedAt = now;
  }

  /** The process died now: how long to wait before restarting it. */
  crashed(now = Date.now()): number {
    if (now - this.startedAt >= this.stableMs) this.quickCrashes = 0;
    this.quickCrashes += 1;
    // The first crash is replaced at once: a healthy worker that hit one bad request should be back fast.
    if (this.quickCrashes === 1) return 0;
    return Math.min(this.maxMs, this.initialMs * 2 ** (this.quickCrashes - 2));
  }
}
