/**
 * The store's named errors. It throws them; only entry points (apps, CLIs) turn them into exit codes or HTTP
 * answers. Own classes, not @kci-metrics/core's: the store depends on no other @kci-metrics package.
 */

/** A configuration value (environment variable or option) is invalid. Names the value and what is expected. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  /** The variable or option that holds the bad value, e.g. `PROMETHEUS_MULTIPROC_DIR` or `option dir`. */
  readonly key: string;

  constructor(key: string, value: unknown, expected: string) {
    super(`Invalid ${key} ${formatValue(value)}: expected ${expected}`);
    this.key = key;
  }
}

/** Codes of {@link StoreError}, so callers can branch without parsing messages. */
export type StoreErrorCode =
  | 'STORE_UNSAFE_DIR' // directory permissions or ownership refused
  | 'STORE_OPEN_FAILED' // the database could not be opened or created
  | 'STORE_DRIVER_UNAVAILABLE' // the SQLite driver (better-sqlite3's native module) cannot be loaded
  | 'STORE_READ_FAILED' // a scrape could not read the database
  | 'STORE_WRITE_FAILED' // a flush could not write the database
  | 'STORE_CLOSED'; // the store was used after close()

/** A failure of the cross-process store, with the path involved and the underlying cause. */
export class StoreError extends Error {
  override readonly name = 'StoreError';
  readonly code: StoreErrorCode;
  readonly path: string | undefined;

  constructor(code: StoreErrorCode, message: string, options: { path?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.path = options.path;
  }
}

/** Quote a bad value for an error message; long values are cut so that messages stay readable. */
function formatValue(value: unknown): string {
  if (typeof value === 'string') {
    const cut = value.length > 80 ? `${value.slice(0, 77)}...` : value;
    return JSON.stringify(cut);
  }
  if (typeof value === 'function') return '[function]';
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
