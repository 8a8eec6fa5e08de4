export type { ExpressMetricsMiddleware, ExpressMetricsOptions } from './express-metrics.js';
export { expressMetrics } from './express-metrics.js';
