import { setTimeout as sleep } from 'node:timers/promises';

export interface WaitOptions {
  /** Give up after this long. Default 30 s. */
  timeoutMs?: number;
  /** Pause between attempts. Default 100 ms. */
  intervalMs?: number;
  /** What is awaited, for the timeout error ("target 127.0.0.1:8001 up"). */
  what: string;
}

/**
 * Call `check` until it returns a value other than undefined/false, and return that value. The last
 * error `check` threw (or its last falsy answer) goes into the timeout error, so a test that times out
 * says what it was waiting for and what it saw instead.
 *
 * @example
 * const samples = await waitUntil(async () => {
 *   const s = await prom.instant('up');
 *   return s.length > 0 ? s : undefined;
 * }, { what: 'a first scrape' });
 */
export async function waitUntil<T>(
  check: () => Promise<T | undefined | false> | T | undefined | false,
  options: WaitOptions,
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const intervalMs = options.intervalMs ?? 100;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
      last = value;
    } catch (error) {
      last = error;
    }
    if (Date.now() >= deadline) {
      const seen = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${options.what} (last: ${seen})`);
    }
    await sleep(intervalMs);
  }
}
