import type { StoreLogger } from './types.js';

export const consoleLogger: StoreLogger = {
  warn: (message) => console.warn(`[kci-metrics] ${message}`),
  info: (message) => console.info(`[kci-metrics] ${message}`),
};

/**
 * Logs a failure once, not at every flush or request (issue #6), then once more when it changes
 * nature or when things work again.
 */
export class OnceLog {
  private current: string | undefined;
  private readonly seen = new Set<string>();

  constructor(private readonly logger: StoreLogger) {}

  /** A failure of the main operation; logged when it differs from the one already reported. */
  failure(key: string, message: string): void {
    if (this.current === key) return;
    this.current = key;
    this.logger.warn(message);
  }

  /** The main operation worked; if it was failing, say so once. */
  success(message: string): void {
    if (this.current === undefined) return;
    this.current = undefined;
    (this.logger.info ?? this.logger.warn)(message);
  }

  /** Something to report once for the life of the process (per key). */
  once(key: string, message: string): void {
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.logger.warn(message);
  }
}
