#!/usr/bin/env node
/**
 * The aggregator command: `kci-metrics-aggregator` (installed with @kci-metrics/aggregator), also
 * `node dist/main.js` and `pnpm --filter aggregator start` in this repository.
 *
 * Exit codes: 0 after SIGTERM/SIGINT (or when the parent that forked it goes away), 1 when the store cannot be
 * opened or the address cannot be bound, 2 for an invalid environment variable or argument. Start-up errors are
 * one line on stderr naming the variable and the value (or the address and the reason), never a stack trace.
 */
import { readFileSync } from 'node:fs';
import { ConfigError } from '@kci-metrics/sqlite-store';
import { type RunningAggregator, startAggregator } from './start.js';

const USAGE = `Usage: kci-metrics-aggregator [--help] [--version]

Serves the merged metrics of every process that writes to the @kci-metrics SQLite store at
http://HOST:PORT/metrics/. Run one per host, as the same user as the workers. Configured by the environment:

  PROMETHEUS_METRICS_PORT        port, 1-65535 (default 8001)
  PROMETHEUS_METRICS_HOST        bind address (default 0.0.0.0)
  PROMETHEUS_MULTIPROC_DIR       the store directory the workers write to (default /tmp/prometheus_multiproc_dir)
  PROMETHEUS_METRICS_AUTH_TOKEN[_FILE]                require a bearer token
  PROMETHEUS_METRICS_BASIC_AUTH_USER, _PASSWORD[_FILE] require basic auth

Stops on SIGTERM or SIGINT. Exit codes: 0 stopped, 1 store or address unusable, 2 invalid variable or argument.
Documentation: https://github.com/kci-metrics/kci-metrics/tree/main/apps/aggregator#readme
`;

function fail(message: string, exitCode: number): never {
  process.stderr.write(`aggregator: ${message}\n`);
  process.exit(exitCode);
}

function version(): string {
  const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return manifest.version;
}

/**
 * Stop on SIGTERM/SIGINT, and when the parent that forked it goes away. Registered before the server starts:
 * a signal that arrives right after the "listening" line (or during the start) must stop it cleanly, not
 * kill it with the signal's default action.
 */
function stopOn(started: Promise<RunningAggregator>): void {
  let stopping = false;
  const stop = (reason: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`aggregator stopping (${reason})`);
    void started.then(
      (aggregator) => aggregator.close().then(() => process.exit(0)),
      () => {}, // the start failed: its error decides the exit code
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  // Forked by a cluster primary (child_process.fork): stop with it, or an orphan would keep the port bound
  // and the primary's next start would fail with EADDRINUSE.
  if (process.connected) process.once('disconnect', () => stop('parent process exited'));
}

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  process.stdout.write(USAGE);
  process.exit(0);
}
if (args.includes('--version') || args.includes('-v')) {
  process.stdout.write(`${version()}\n`);
  process.exit(0);
}
if (args.length > 0)
  fail(`unknown argument ${JSON.stringify(args[0])}: the aggregator is configured by the environment (see --help)`, 2);

const started = startAggregator();
stopOn(started);
try {
  await started;
} catch (error) {
  if (error instanceof ConfigError) fail(error.message, 2);
  fail(error instanceof Error ? error.message : String(error), 1);
}
