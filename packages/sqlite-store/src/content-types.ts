/** `Content-Type` of the Prometheus text format 0.0.4, as `store.metrics()` renders it by default. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
/** `Content-Type` of OpenMetrics 1.0, as `store.metrics({ format: 'openmetrics' })` renders it. */
export const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';
