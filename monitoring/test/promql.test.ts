import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { binaryOrSkip } from './support/binaries.js';
import { alertRules, dashboardQueries, loadDashboard, substituteVariables } from './support/dashboard.js';
import { type RunningPrometheus, startPrometheus } from './support/prometheus.js';

const prometheus = binaryOrSkip('prometheus');

// Grafana substitutes its variables before sending a query; so do we, with the values a user would see.
const queries = [
  ...dashboardQueries(loadDashboard()).map((q) => ({ source: q.source, expr: substituteVariables(q.expr) })),
  ...alertRules().map((r) => ({ source: `alert ${r.alert}`, expr: r.expr })),
];

describe.skipIf(!prometheus)('every PromQL expression of dashboard.json and alerts.yml, in a real Prometheus', () => {
  let prom: RunningPrometheus;
  beforeAll(async () => {
    prom = await startPrometheus({ config: 'global:\n  scrape_interval: 15s\nscrape_configs: []\n' });
  });
  afterAll(async () => {
    await prom?.stop();
  });

  it.each(queries)('$source parses and evaluates to an instant vector', async ({ expr }) => {
    const answer = await prom.query(expr);
    expect(answer, expr).toMatchObject({ status: 'success', data: { resultType: 'vector' } });
  });

  it('reports a broken expression as an error (the checks above can fail)', async () => {
    const answer = await prom.query('sum by (route) (rate(http_request_duration_seconds_count{route!="<unmatched>"}))');
    expect(answer.status).toBe('error');
    expect(answer.errorType).toBe('bad_data');
  });
});
