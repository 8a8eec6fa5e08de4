/**
 * The demo backend's building blocks, for tests and for anyone embedding the API mirror. The runnable
 * entry points are dist/main.js (backend), dist/demo.js (demo defaults) and dist/traffic.js.
 */
export type { BackendConfig, Framework } from './config.js';
export { FRAMEWORKS, readBackendConfig } from './config.js';
export type { ExpressAppOptions } from './express-app.js';
export { createExpressApp } from './express-app.js';
export type { KoaAppOptions } from './koa-app.js';
export { createKoaApp } from './koa-app.js';
export type { Route, RouteMethod } from './routes.js';
export { ROUTES } from './routes.js';
export type { PlannedRequest } from './traffic-plan.js';
export { trafficPlan, UNMATCHED } from './traffic-plan.js';
