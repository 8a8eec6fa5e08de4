import { fileURLToPath } from 'node:url';

export type { AuthConfig } from './auth.js';
export { parseAuthConfig } from './auth.js';
export type { AggregatorConfig } from './config.js';
export { DEFAULT_METRICS_HOST, DEFAULT_METRICS_PORT, loadAggregatorConfig } from './config.js';
export type { AggregatorServerOptions, AggregatorTimeouts } from './server.js';
export { createAggregatorServer } from './server.js';
export type { RunningAggregator, StartAggregatorOptions } from './start.js';
export { startAggregator } from './start.js';
export type { AggregatorLogger } from './store-watch.js';

/**
 * Absolute path of the aggregator's entry point (the `kci-metrics-aggregator` command), for a process manager or
 * cluster primary that runs the aggregator as a child process. It reads the same environment variables.
 *
 * @example
 * import { fork } from 'node:child_process';
 * import { AGGREGATOR_MAIN } from '@kci-metrics/aggregator';
 * const aggregator = fork(AGGREGATOR_MAIN, [], { env: process.env });
 */
export const AGGREGATOR_MAIN: string = fileURLToPath(new URL('./main.js', import.meta.url));
