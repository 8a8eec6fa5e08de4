import { allPanels, loadDashboard, type Panel, substituteVariables } from './dashboard.js';
import type { RunningPrometheus, Sample } from './prometheus.js';
import { endpointKey } from './requests.js';

const panels = allPanels(loadDashboard());

/** The dashboard panel with this title (rows' nested panels included). */
export function panelByTitle(title: string): Panel {
  const found = panels.find((p) => p.title === title);
  if (!found) throw new Error(`monitoring/dashboard.json has no panel titled "${title}"`);
  return found;
}

/**
 * A panel's query as Grafana sends it: the target `refId` of the panel titled `title`, with Grafana's
 * variables substituted (`values` override the defaults, e.g. `{ instance: '127.0.0.1:9101' }`).
 *
 * @example
 * const expr = panelExpr('Total Calls by Endpoint'); // sort_desc(sum by (method, route) (...{job=~".+", ...}))
 */
export function panelExpr(title: string, refId = 'A', values: Record<string, string> = {}): string {
  const target = panelByTitle(title).targets?.find((t) => t.refId === refId);
  if (!target) throw new Error(`Panel "${title}" has no query ${refId}`);
  return substituteVariables(target.expr, values);
}

/** An instant vector by `"METHOD route"` (per-endpoint panels). Two samples for one key are an error. */
export function byEndpoint(samples: readonly Sample[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of samples) {
    const key = endpointKey(s.labels);
    if (key in out) throw new Error(`Two samples for ${key}: ${JSON.stringify(samples)}`);
    out[key] = s.value;
  }
  return out;
}

/**
 * Evaluate a panel's query in `prom` and key the answer by endpoint.
 *
 * @example
 * expect(await panelByEndpoint(prom, 'Total Calls by Endpoint')).toEqual({ 'GET /api/tree/': 12 });
 */
export async function panelByEndpoint(
  prom: RunningPrometheus,
  title: string,
  refId = 'A',
  values: Record<string, string> = {},
): Promise<Record<string, number>> {
  return byEndpoint(await prom.instant(panelExpr(title, refId, values)));
}

/** A single-value panel (stat): its one sample's value, or undefined when the query returns nothing. */
export async function panelValue(
  prom: RunningPrometheus,
  title: string,
  values: Record<string, string> = {},
): Promise<number | undefined> {
  const samples = await prom.instant(panelExpr(title, 'A', values));
  if (samples.length > 1) throw new Error(`Panel "${title}" returned ${samples.length} samples, expected one`);
  return samples[0]?.value;
}
