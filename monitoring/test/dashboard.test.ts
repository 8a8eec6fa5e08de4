import { describe, expect, it } from 'vitest';
import { allPanels, dashboardQueries, loadDashboard, type Panel, substituteVariables } from './support/dashboard.js';

const dashboard = loadDashboard();
const panels = allPanels(dashboard);
const queryPanels = panels.filter((p) => p.type !== 'row');
const byTitle = (title: string): Panel => {
  const panel = panels.find((p) => p.title === title);
  if (!panel) throw new Error(`No panel titled "${title}"`);
  return panel;
};
const exprs = (panel: Panel) => (panel.targets ?? []).map((t) => t.expr);
// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, not a template literal.
const DS_VAR = '${datasource}';
/** Every selector of the duration histogram's series, with its matchers. */
const HISTOGRAM_SELECTOR = /http_request_duration_seconds_(?:bucket|sum|count)\{([^}]*)\}/g;

describe('datasource', () => {
  it('is a template variable over Prometheus datasources, so an import works with any datasource name', () => {
    const variable = dashboard.templating.list.find((v) => v.type === 'datasource');
    expect(variable).toMatchObject({ name: 'datasource', query: 'prometheus' });
    // No __inputs: those only work through the import dialog and break file provisioning.
    expect(dashboard.__inputs).toBeUndefined();
  });

  it('is used by every panel, every query, every query variable and every Prometheus annotation', () => {
    for (const panel of queryPanels) {
      expect(panel.datasource, panel.title).toEqual({ type: 'prometheus', uid: DS_VAR });
      for (const target of panel.targets ?? []) {
        expect(target.datasource, `${panel.title} ${target.refId}`).toEqual({ type: 'prometheus', uid: DS_VAR });
      }
    }
    for (const v of dashboard.templating.list.filter((v) => v.type === 'query')) {
      expect(v.datasource, v.name).toEqual({ type: 'prometheus', uid: DS_VAR });
    }
    for (const a of dashboard.annotations.list.filter((a) => !a.builtIn)) {
      expect(a.datasource, a.name).toEqual({ type: 'prometheus', uid: DS_VAR });
    }
  });

  it('names no datasource of a particular installation anywhere', () => {
    const text = JSON.stringify(dashboard);
    const uids = [...text.matchAll(/"uid":"([^"]*)"/g)].map((m) => m[1]);
    expect(new Set(uids)).toEqual(new Set([dashboard.uid, DS_VAR, '-- Grafana --']));
  });
});

describe("the seed's panels", () => {
  it('Average Response Time by Endpoint divides the rate of the sum by the rate of the count, per route', () => {
    const [expr] = exprs(byTitle('Average Response Time by Endpoint'));
    expect(expr).toMatch(
      /^sum by \(method, route\) \(rate\(http_request_duration_seconds_sum\{.*\}\[\$__rate_interval\]\)\) \/ sum by \(method, route\) \(rate\(http_request_duration_seconds_count\{/,
    );
  });

  it('Total Calls by Endpoint counts requests per method and route', () => {
    const [expr] = exprs(byTitle('Total Calls by Endpoint'));
    expect(expr).toMatch(/sum by \(method, route\) \(http_request_duration_seconds_count\{/);
  });

  it('Endpoint Performance Summary is a table with Method, Endpoint, Total Calls, Average Response Time, Total Time', () => {
    const table = byTitle('Endpoint Performance Summary');
    expect(table.type).toBe('table');
    expect(table.targets?.every((t) => t.format === 'table' && t.instant)).toBe(true);
    const organize = table.transformations?.find((t) => t.id === 'organize')?.options as {
      renameByName: Record<string, string>;
      indexByName: Record<string, number>;
    };
    const columns = Object.entries(organize.indexByName)
      .sort(([, a], [, b]) => a - b)
      .map(([field]) => organize.renameByName[field]);
    expect(columns).toEqual(['Method', 'Endpoint', 'Total Calls', 'Average Response Time', 'Total Time']);
    const [calls, average, total] = exprs(table);
    expect(calls).toMatch(/^sum by \(method, route\) \(http_request_duration_seconds_count\{/);
    expect(average).toMatch(/_sum\{.*\}\) \/ sum by \(method, route\) \(http_request_duration_seconds_count\{/);
    expect(total).toMatch(/^sum by \(method, route\) \(http_request_duration_seconds_sum\{/);
    const overrides = (table.fieldConfig?.overrides ?? []) as Array<{
      matcher: { options: string };
      properties: Array<{ id: string; value: unknown }>;
    }>;
    const units = Object.fromEntries(
      overrides.map((o) => [o.matcher.options, o.properties.find((p) => p.id === 'unit')?.value]),
    );
    expect(units).toEqual({ 'Total Calls': 'short', 'Average Response Time': 's', 'Total Time': 's' });
  });
});

describe('what an on-call engineer needs next to them', () => {
  it.each([
    ['p50 latency by Endpoint', 0.5],
    ['p95 latency by Endpoint', 0.95],
    ['p99 latency by Endpoint', 0.99],
  ])('%s is a quantile of the route histogram', (title, q) => {
    expect(exprs(byTitle(title))).toEqual([
      expect.stringMatching(
        new RegExp(
          `^histogram_quantile\\(${q}, sum by \\(le, method, route\\) \\(rate\\(http_request_duration_seconds_bucket\\{`,
        ),
      ),
    ]);
  });

  it('latency panels query exemplars (the trace ids of the demo), and only range queries of buckets do', () => {
    for (const title of ['p50 latency by Endpoint', 'p95 latency by Endpoint', 'p99 latency by Endpoint']) {
      const targets = byTitle(title).targets ?? [];
      expect(targets.map((t) => [t.exemplar, t.range])).toEqual([[true, true]]);
    }
    // Prometheus keeps exemplars of the series a query selects; Grafana shows them on range queries only
    for (const t of queryPanels.flatMap((p) => p.targets ?? []).filter((t) => t.exemplar)) {
      expect(t.expr).toContain('http_request_duration_seconds_bucket');
      expect(t.instant).toBe(false);
    }
  });

  it('has the 5xx ratio per route, requests in flight, and worker and store health', () => {
    expect(exprs(byTitle('Error ratio (5xx) by Endpoint'))[0]).toContain('status_code=~"5.."');
    expect(exprs(byTitle('Requests in flight by method'))[0]).toContain('http_server_active_requests');
    const health = queryPanels.flatMap(exprs).join('\n');
    for (const metric of [
      'kci_metrics_store_writers',
      'kci_metrics_store_flush_failures_total',
      'kci_metrics_store_read_failures_total',
      'kci_metrics_store_conflicts',
      'kci_metrics_store_size_bytes',
      'kci_metrics_scrape_duration_seconds',
      'process_resident_memory_bytes',
      'process_cpu_seconds_total',
      'up{',
    ]) {
      expect(health, metric).toContain(metric);
    }
  });
});

describe('queries', () => {
  it('per-endpoint panels leave out requests that matched no route', () => {
    const perEndpoint = queryPanels
      .flatMap((p) => (p.targets ?? []).map((t) => ({ p, t })))
      .filter(({ t }) => /by \([^)]*\broute\b/.test(t.expr));
    // The seed's three panels, three percentiles, error ratio and request rate, at least.
    expect(new Set(perEndpoint.map(({ p }) => p.title)).size).toBeGreaterThanOrEqual(8);
    for (const { p, t } of perEndpoint) {
      const selectors = [...t.expr.matchAll(HISTOGRAM_SELECTOR)];
      expect(selectors.length, `${p.title} ${t.refId}`).toBeGreaterThan(0);
      for (const [, matchers] of selectors) expect(matchers, `${p.title} ${t.refId}`).toContain('route!="<unmatched>"');
    }
  });

  it('filter on the selected job and hosts, so other services with the same metric names stay out', () => {
    for (const { source, expr } of dashboardQueries(dashboard)) {
      if (source.startsWith('variable') || source.startsWith('annotation')) continue;
      for (const m of expr.matchAll(/([a-z_]+)\{([^}]*)\}/g)) {
        expect(m[2], `${source}: ${m[1]}`).toContain('job=~"$job", instance=~"$instance"');
      }
    }
  });

  it("use Grafana's range variables instead of fixed windows", () => {
    for (const { source, expr } of dashboardQueries(dashboard)) {
      for (const m of expr.matchAll(/\[([^\]]+)\]/g)) expect(['$__rate_interval', '$__range'], source).toContain(m[1]);
    }
  });

  it('only use variables the tests know how to substitute', () => {
    for (const { expr } of dashboardQueries(dashboard)) expect(substituteVariables(expr)).not.toContain('$');
  });
});

describe('layout', () => {
  it('has unique panel ids and panels that fit the 24-column grid without overlapping', () => {
    expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
    const cells = new Map<string, string>();
    for (const p of panels) {
      const { x, y, w, h } = p.gridPos;
      expect(x + w, p.title).toBeLessThanOrEqual(24);
      for (let i = x; i < x + w; i++) {
        for (let j = y; j < y + h; j++) {
          const taken = cells.get(`${i},${j}`);
          expect(taken, `${p.title} overlaps ${taken}`).toBeUndefined();
          cells.set(`${i},${j}`, p.title);
        }
      }
    }
  });
});
