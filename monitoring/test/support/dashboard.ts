import { parse } from 'yaml';
import { readRepoFile } from './repo.js';

export interface DataSourceRef {
  type?: string;
  uid?: string;
}

export interface PanelTarget {
  refId: string;
  expr: string;
  datasource?: DataSourceRef;
  instant?: boolean;
  range?: boolean;
  format?: string;
  legendFormat?: string;
  /** Grafana's exemplar toggle of a Prometheus query. */
  exemplar?: boolean;
}

export interface Panel {
  id: number;
  type: string;
  title: string;
  description?: string;
  datasource?: DataSourceRef;
  gridPos: { h: number; w: number; x: number; y: number };
  targets?: PanelTarget[];
  /** Panels of a collapsed row. */
  panels?: Panel[];
  transformations?: Array<{ id: string; options: Record<string, unknown> }>;
  fieldConfig?: { defaults: Record<string, unknown>; overrides: unknown[] };
}

export interface TemplateVariable {
  type: string;
  name: string;
  query?: string | { query: string };
  datasource?: DataSourceRef;
  includeAll?: boolean;
  allValue?: string;
}

export interface Annotation {
  name: string;
  builtIn?: number;
  datasource?: DataSourceRef;
  expr?: string;
}

export interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: TemplateVariable[] };
  annotations: { list: Annotation[] };
  __inputs?: unknown[];
}

/** One PromQL expression the dashboard sends, and where it comes from (for test names and messages). */
export interface DashboardQuery {
  source: string;
  expr: string;
  /** Evaluated at one instant (tables, bar gauges, stats) rather than over the time range. */
  instant: boolean;
}

/** monitoring/dashboard.json, parsed. */
export function loadDashboard(): Dashboard {
  return JSON.parse(readRepoFile('monitoring/dashboard.json')) as Dashboard;
}

/** Every panel, rows' nested panels included, rows themselves included. */
export function allPanels(dashboard: Dashboard): Panel[] {
  return dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
}

/**
 * Every PromQL expression in the dashboard: panel targets, Prometheus annotations, and the selectors
 * of `label_values(selector, label)` variable queries (Grafana turns those into a series look-up).
 */
export function dashboardQueries(dashboard: Dashboard): DashboardQuery[] {
  const queries: DashboardQuery[] = [];
  for (const panel of allPanels(dashboard)) {
    for (const t of panel.targets ?? []) {
      queries.push({
        source: `panel "${panel.title}" ${t.refId}`,
        expr: t.expr,
        instant: t.instant === true && t.range !== true,
      });
    }
  }
  for (const a of dashboard.annotations.list) {
    if (a.expr) queries.push({ source: `annotation "${a.name}"`, expr: a.expr, instant: false });
  }
  for (const v of dashboard.templating.list) {
    if (v.type !== 'query') continue;
    const text = typeof v.query === 'string' ? v.query : (v.query?.query ?? '');
    const selector = /^label_values\((.+),\s*\w+\)$/.exec(text.trim())?.[1];
    if (!selector) throw new Error(`Variable "${v.name}": unsupported query ${JSON.stringify(text)}`);
    queries.push({ source: `variable "${v.name}"`, expr: selector, instant: true });
  }
  return queries;
}

/**
 * Values for Grafana's variables when a test evaluates a dashboard query itself. `$job` and
 * `$instance` are multi-value variables whose "All" matches every value.
 */
export const GRAFANA_VARIABLES: Readonly<Record<string, string>> = {
  __rate_interval: '1m',
  __interval: '15s',
  __interval_ms: '15000',
  __range: '1h',
  __range_s: '3600',
  __range_ms: '3600000',
  job: '.+',
  instance: '.+',
};

/**
 * Replace Grafana variables (`$name`, `${name}`, `${name:format}`, `[[name]]`) the way Grafana does
 * before it sends a query. An unknown variable is an error, so a query can never reach Prometheus with
 * a `$` left in it.
 *
 * @example
 * substituteVariables('rate(x{job=~"$job"}[$__rate_interval])'); // 'rate(x{job=~".+"}[1m])'
 * substituteVariables('increase(x[$__range])', { __range: '5m' }); // 'increase(x[5m])'
 */
export function substituteVariables(expr: string, values: Record<string, string> = {}): string {
  const all = { ...GRAFANA_VARIABLES, ...values };
  return expr.replace(/\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]/g, (match, a?: string, b?: string, c?: string) => {
    const name = (a ?? b ?? c) as string;
    const value = all[name];
    if (value === undefined) throw new Error(`Unknown Grafana variable ${match} in: ${expr}`);
    return value;
  });
}

export interface AlertRule {
  group: string;
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** The alerting rules of monitoring/alerts.yml. */
export function alertRules(): AlertRule[] {
  const doc = parse(readRepoFile('monitoring/alerts.yml')) as {
    groups: Array<{ name: string; rules: Array<Omit<AlertRule, 'group'> & { record?: string }> }>;
  };
  return doc.groups.flatMap((g) => g.rules.filter((r) => r.alert).map((r) => ({ group: g.name, ...r })));
}
