/**
 * The error of @kci-metrics/core: invalid adapter options. Libraries throw it; only entry points (apps, CLIs)
 * turn it into exit codes or HTTP answers. (The store's errors live in @kci-metrics/sqlite-store.)
 */

/** A configuration value (environment variable or option) is invalid. Names the value and what is expected. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  /** The option that holds the bad value, e.g. `option prefix`. */
  readonly key: string;

  constructor(key: string, value: unknown, expected: string) {
    super(`Invalid ${key} ${formatValue(value)}: expected ${expected}`);
    this.key = key;
  }
}

/** Quote a bad value for an error message; long values are cut so that messages stay readable. */
export function formatValue(value: unknown): string {
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
