/**
 * The app of the express-throughput benchmark, one process: two parameterised routes returning small JSON,
 * with metrics off, with express-prom-bundle (its defaults plus the route label it documents for
 * parameterised routes), with @kci-metrics/express recording into a store attached on a temp directory, or
 * with the floor (see floorRecorder below). Prints its port on stdout when listening.
 *
 * argv[2]: off | prom-bundle | kci | floor; argv[3]: the store directory (kci only).
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const requireExpress = createRequire(new URL('../packages/express/package.json', import.meta.url));
const express = requireExpress('express');
const variant = process.argv[2];
const app = express();

if (variant === 'prom-bundle') {
  const promBundle = requireExpress('express-prom-bundle');
  app.use(promBundle({ includeMethod: true, includePath: true, includeStatusCode: true }));
} else if (variant === 'kci') {
  const { expressMetrics } = await import(pathToFileURL(requireExpress.resolve('@kci-metrics/express')).href);
  const { openStore } = await import(
    pathToFileURL(
      createRequire(new URL('../packages/sqlite-store/package.json', import.meta.url)).resolve(
        '@kci-metrics/sqlite-store',
      ),
    ).href
  );
  const metrics = expressMetrics();
  app.use(metrics);
  openStore({ dir: process.argv[3], logger: { warn: (m) => process.stderr.write(`${m}\n`) } }).attach(metrics.registry);
} else if (variant === 'floor') {
  await floorRecorder(app);
} else if (variant !== 'off') {
  throw new Error(`unknown variant ${variant}`);
}

/**
 * The floor: about the least a recorder of our design can cost, as a reference for the bench, not something
 * to ship. node:http's two diagnostics channels (the request's start into variables, its finish), one
 * object per request kept on its socket, and the route template and histogram observation exactly as ours
 * makes them (the Express adapter's template, core's observer, without the store). Nothing else: no
 * exclusion, no in-flight count, no pipelining, no fallback, no guard against a throwing metric.
 */
async function floorRecorder(app) {
  const { subscribe } = await import('node:diagnostics_channel');
  const { performance } = await import('node:perf_hooks');
  const dist = (pkg, file) => import(new URL(`../packages/${pkg}/dist/${file}`, import.meta.url).href);
  const { defineHttpMetrics, HTTP_DURATION_BUCKETS } = await dist('core', 'http-metrics.js');
  const { httpObserver } = await dist('core', 'http-observer.js');
  const { batched } = await dist('core', 'observation-batch.js');
  const { UNMATCHED_ROUTE } = await dist('core', 'labels.js');
  const { prepareRoute, routeTemplate } = await dist('express', 'route-template.js');
  const { Registry } = createRequire(new URL('../packages/core/package.json', import.meta.url))('prom-client');
  const { duration } = defineHttpMetrics(new Registry(), {
    prefix: '',
    buckets: HTTP_DURATION_BUCKETS,
    extraLabelNames: [],
    requestSizes: false,
    responseSizes: false,
  });
  const observe = batched(duration, httpObserver(duration));
  const PENDING = Symbol('floor.pending');
  let request;
  let response;
  let socket;
  let method;
  let startedAt = 0;
  subscribe('http.server.request.start', (message) => {
    ({ request, response, socket } = message);
    method = request.method;
    startedAt = performance.now();
  });
  subscribe('http.server.response.finish', ({ response: res, socket: sock }) => {
    const pending = sock[PENDING];
    if (pending === undefined || pending.response !== res) return;
    sock[PENDING] = undefined;
    const route = routeTemplate(pending.request, app, '') ?? UNMATCHED_ROUTE;
    observe(pending.method, route, Reflect.get(res, 'statusCode'), (performance.now() - pending.startedAt) / 1000);
  });
  let walked = false;
  app.use(function floor(req, _res, next) {
    if (!walked) {
      walked = true;
      prepareRoute(req, app, '');
    }
    if (req === request) {
      request = undefined;
      socket[PENDING] = { request: req, response, method, startedAt };
    }
    next();
  });
}

const api = express.Router();
api.get('/tree/:commitHash/summary', (req, res) => res.json({ commit: req.params.commitHash, builds: 12, tests: 340 }));
api.get('/build/:buildId', (req, res) => res.json({ id: req.params.buildId, status: 'PASS' }));
app.use('/api', api);

const server = app.listen(0, '127.0.0.1', () => process.stdout.write(`${server.address().port}\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
