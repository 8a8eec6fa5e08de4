/**
 * `pnpm start` at the repository root (`pnpm --filter backend start:demo`): the backend with the demo's
 * defaults, which only fill variables the environment leaves unset, and a banner with the URLs.
 */
import { exitOnStartupError } from './errors.js';
import { type ReadyInfo, runPrimary } from './primary.js';

/** What the demo changes from the plain backend: metrics on (the point of the demo). */
export const DEMO_DEFAULTS: Readonly<Record<string, string>> = {
  PROMETHEUS_METRICS_ENABLED: 'true',
};

function banner({ backend, metrics, port }: ReadyInfo): void {
  const api = `http://localhost:${port}`;
  const lines = [
    '',
    `KernelCI Dashboard API mirror: ${backend.workers} ${backend.framework} workers (WEB_CONCURRENCY, BACKEND_FRAMEWORK)`,
    `  API        ${api}/api/tree/   (every route: ${api}/api/schema/)`,
    metrics.enabled
      ? `  Metrics    http://localhost:${metrics.port}/metrics/   (store: ${metrics.multiprocDir})`
      : '  Metrics    disabled (PROMETHEUS_METRICS_ENABLED=false)',
    `  Traffic    pnpm --filter backend traffic${port === 8000 ? '' : ` --target http://127.0.0.1:${port}`}   (2000 requests over ~40 s, then stops)`,
    '  Stop       Ctrl+C   (drains in-flight requests and flushes the metrics)',
    '',
  ];
  console.log(lines.join('\n'));
}

for (const [name, value] of Object.entries(DEMO_DEFAULTS)) {
  if (process.env[name] === undefined || process.env[name] === '') process.env[name] = value;
}
runPrimary(process.env, { onReady: banner }).catch(exitOnStartupError);
