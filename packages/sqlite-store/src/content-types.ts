// Apart from render.ts so that the public declarations (dist/index.d.ts and what it imports) never reach a
// module that imports better-sqlite3's types: a user compiling with `skipLibCheck: false` would otherwise need
// @types/better-sqlite3 (TS7016, issue 14).

/** `Content-Type` of the Prometheus text format 0.0.4, as `store.metrics()` renders it by default. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
/** `Content-Type` of OpenMetrics 1.0, as `store.metrics({ format: 'openmetrics' })` renders it. */
export const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';
