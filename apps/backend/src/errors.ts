import { ConfigError } from '@kci-metrics/core';
import { ConfigError as StoreConfigError } from '@kci-metrics/sqlite-store';

/** The backend cannot start for a reason other than a bad variable (e.g. the metrics store cannot be opened). */
export class StartupError extends Error {
  override readonly name = 'StartupError';
}

/** Exit code of an invalid environment variable (as the aggregator uses). */
export const EXIT_CONFIG = 2;
/** Exit code of any other start-up failure. */
export const EXIT_STARTUP = 1;

/**
 * Print a start-up failure as one line naming the problem (a stack trace only for real bugs) and exit:
 * 2 for an invalid variable, 1 otherwise.
 *
 * @example
 * runPrimary().catch(exitOnStartupError);
 */
export function exitOnStartupError(error: unknown): never {
  // The backend's own variables throw core's ConfigError, the metrics variables the store's (same shape).
  if (error instanceof ConfigError || error instanceof StoreConfigError) {
    process.stderr.write(`backend: ${error.message}\n`);
    process.exit(EXIT_CONFIG);
  }
  if (error instanceof StartupError) {
    process.stderr.write(`backend: ${error.message}\n`);
    process.exit(EXIT_STARTUP);
  }
  process.stderr.write(
    `backend: start-up failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(EXIT_STARTUP);
}
