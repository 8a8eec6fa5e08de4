export { koaMetrics } from './koa-metrics.js';
export type { KoaMetricsMiddleware, KoaMetricsOptions } from './koa-metrics.js';
