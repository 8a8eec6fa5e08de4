/**
 * `pnpm --filter backend traffic`: drive realistic requests across every route of a running backend on
 * this machine, then print what was sent per route and status. Loopback targets only; stops by itself.
 *
 * Exit codes: 0 done, 1 no request got an answer (is the backend running?), 2 invalid flag or variable.
 */
import { ConfigError } from '@kci-metrics/core';
import { readTrafficOptions, type TrafficOptions } from './traffic-options.js';
import { runTraffic, type TrafficResult } from './traffic-run.js';

function printSummary(options: TrafficOptions, result: TrafficResult): void {
  const rows = [...result.byRoute].sort(([a], [b]) => a.localeCompare(b));
  const width = Math.max(20, ...rows.map(([key]) => key.length));
  console.log(`${'route'.padEnd(width)}  responses by status`);
  for (const [key, statuses] of rows) {
    const cells = [...statuses].sort(([a], [b]) => a - b).map(([status, count]) => `${status}: ${count}`);
    console.log(`${key.padEnd(width)}  ${cells.join('  ')}`);
  }
  const rps = result.seconds > 0 ? (result.responses / result.seconds).toFixed(1) : '0';
  console.log(
    `\n${result.responses} responses from ${rows.length} routes in ${result.seconds.toFixed(1)} s (${rps}/s) against ${options.target.origin}; ${result.failures} failed`,
  );
}

async function main(): Promise<number> {
  let options: TrafficOptions;
  try {
    options = await readTrafficOptions(process.argv.slice(2), process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`traffic: ${error.message}`);
    return 2;
  }
  const pace = options.rate > 0 ? `${options.rate}/s` : 'as fast as possible';
  console.log(
    `traffic: ${options.requests} requests to ${options.target.origin}, ${options.concurrency} at a time, ${pace}, for at most ${options.durationS} s`,
  );
  const result = await runTraffic(options);
  printSummary(options, result);
  if (result.responses === 0 && result.failures > 0) {
    console.error(
      `traffic: no answer from ${options.target.origin} (${result.firstFailure}); is the backend running? (pnpm start)`,
    );
    return 1;
  }
  return 0;
}

process.exitCode = await main();
