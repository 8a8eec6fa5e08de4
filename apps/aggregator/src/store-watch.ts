import type { StoreHealth } from '@kci-metrics/sqlite-store';

/** Where the aggregator logs. `info` for lifecycle lines, `warn` for trouble it survives, `error` for bugs. */
export interface AggregatorLogger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** Logs to the console: `info` to stdout, `warn` and `error` to stderr. */
export const consoleLogger: AggregatorLogger = {
  info: (message) => console.log(message),
  warn: (message) => console.warn(message),
  error: (message) => console.error(message),
};

/**
 * Turns what each scrape sees into log lines without flooding the log: a store read failure is logged once per
 * distinct cause (with the path and the cause) and its end once; a definition conflict is logged once when it
 * appears and once when it is gone (issue #6: "the failure is logged once, not per request").
 */
export class StoreWatch {
  private readonly failures = new Set<string>();
  private readonly conflicts = new Set<string>();
  /** Scrapes that could not read the store, since the aggregator started. */
  readFailures = 0;

  constructor(private readonly logger: AggregatorLogger) {}

  /** Record a failed read of the store. */
  failed(error: unknown): void {
    this.readFailures += 1;
    const text = describeError(error);
    if (this.failures.has(text)) return;
    this.failures.add(text);
    this.logger.warn(`metrics store unreadable, scrapes get 503 until it recovers: ${text}`);
  }

  /** Record a successful read of the store and its health. */
  succeeded(health: StoreHealth): void {
    if (this.failures.size > 0) {
      this.failures.clear();
      this.logger.info(`metrics store readable again (${health.path})`);
    }
    const current = new Set<string>();
    for (const { metric, detail } of health.conflicts) {
      const key = `${metric}: ${detail}`;
      current.add(key);
      if (!this.conflicts.has(key)) {
        this.conflicts.add(key);
        this.logger.warn(`metric definition conflict, other metrics are unaffected: ${key}`);
      }
    }
    for (const key of this.conflicts) {
      if (current.has(key)) continue;
      this.conflicts.delete(key);
      this.logger.info(`metric definition conflict resolved: ${key}`);
    }
  }
}

/**
 * One line naming the error, its code, the path involved and the chain of causes. Log only: HTTP answers never
 * carry it, because it contains internal paths.
 */
export function describeError(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current !== undefined && current !== null; depth += 1) {
    if (current instanceof Error) {
      const { code, path } = current as Error & { code?: unknown; path?: unknown };
      const codeText = typeof code === 'string' ? ` ${code}` : '';
      const pathText = typeof path === 'string' && !current.message.includes(path) ? ` (${path})` : '';
      parts.push(`${current.name}${codeText}: ${current.message}${pathText}`);
      current = current.cause;
    } else {
      parts.push(String(current));
      break;
    }
  }
  return parts.join('; caused by ').replace(/\s*\n\s*/g, ' ');
}
