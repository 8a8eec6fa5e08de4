export type { KoaMetricsMiddleware, KoaMetricsOptions } from './koa-metrics.js';
export { koaMetrics } from './koa-metrics.js';
