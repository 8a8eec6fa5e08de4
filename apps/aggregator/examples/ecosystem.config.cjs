// PM2: your app in cluster mode (every worker records into the store) and the aggregator once, in fork
// mode (it serves the merged metrics at http://HOST:8001/metrics/). Copy this file next to your app's
// package.json, set `script` to your app's entry file, then: pm2 start ecosystem.config.cjs
//
// The app's workers apply the same variables with `attachFromEnv(registry)` from @kci-metrics/sqlite-store.
const { join } = require('node:path');

const metrics = {
  PROMETHEUS_METRICS_ENABLED: 'true',
  // Both processes must use the same directory; it is created owner-only, so run them as the same user.
  PROMETHEUS_MULTIPROC_DIR: '/tmp/prometheus_multiproc_dir',
};

module.exports = {
  apps: [
    {
      name: 'app',
      script: join(__dirname, 'app.js'),
      exec_mode: 'cluster',
      instances: 'max',
      env: { ...metrics, PORT: '3000' },
    },
    {
      name: 'metrics-aggregator',
      // The kci-metrics-aggregator command of @kci-metrics/aggregator, run by Node in fork mode.
      script: join(__dirname, 'node_modules/@kci-metrics/aggregator/dist/main.js'),
      exec_mode: 'fork',
      instances: 1,
      // It lets open scrapes finish for up to 3 s after SIGINT; PM2's default wait is 1.6 s.
      kill_timeout: 5000,
      env: { ...metrics, PROMETHEUS_METRICS_PORT: '8001', PROMETHEUS_METRICS_HOST: '0.0.0.0' },
    },
  ],
};
