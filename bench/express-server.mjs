/**
 * The app of the express-throughput benchmark, one process: two parameterised routes returning small JSON,
 * with metrics off, with express-prom-bundle (its defaults plus the route label it documents for
 * parameterised routes), or with @kci-metrics/express recording into a store attached on a temp directory.
 * Prints its port on stdout when listening.
 *
 * argv[2]: off | prom-bundle | kci; argv[3]: the store directory (kci only).
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
} else if (variant !== 'off') {
  throw new Error(`unknown variant ${variant}`);
}

const api = express.Router();
api.get('/tree/:commitHash/summary', (req, res) => res.json({ commit: req.params.commitHash, builds: 12, tests: 340 }));
api.get('/build/:buildId', (req, res) => res.json({ id: req.params.buildId, status: 'PASS' }));
app.use('/api', api);

const server = app.listen(0, '127.0.0.1', () => process.stdout.write(`${server.address().port}\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
