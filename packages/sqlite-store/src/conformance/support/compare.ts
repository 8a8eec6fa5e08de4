import { type Exposition, parseExposition } from '../../test-support/exposition.js';
import type { Program } from './programs.js';

/**
 * The comparison of the differential test: a store's merged exposition against prom-client's own
 * rendering of the reference registry, both parsed, after these normalisations (each a documented
 * difference of the store, or a freedom of the formats):
 * - prom-client writes NaN as `Nan`: read as NaN (both are NaN to Prometheus);
 * - label order is free (prom-client puts series labels in the order they were passed, `le` first in
 *   histogram buckets with default labels): labels are compared as sets, samples of a family as a set;
 * - summaries: prom-client's quantile samples are dropped (the store has none: not mergeable);
 * - all/liveall gauges: the store's `pid` label is dropped (one writer: one series per label set);
 * - families without samples are left out on both sides (prom-client writes HELP/TYPE for a labelled
 *   metric with no series; the store does for counters, histograms and summaries but not gauges:
 *   prom-client-rendering.test.ts checks that case);
 * - reset()/remove()/resetMetrics() of counters, histograms and summaries are not applied to the
 *   reference registry (support/writer.mjs): the store keeps their totals (its README).
 */
export interface FamilyView {
  name: string;
  type: string | undefined;
  help: string | undefined;
  samples: string[];
}

export function view(text: string, openMetrics: boolean, program: Program, side: 'store' | 'reference'): FamilyView[] {
  const source = side === 'reference' ? text.replace(/ Nan$/gm, ' NaN') : text;
  const exp: Exposition = parseExposition(source, openMetrics);
  const pidModes = new Set(
    program.metrics.filter((m) => m.kind === 'gauge' && (m.mode === 'all' || m.mode === 'liveall')).map((m) => m.name),
  );
  const out: FamilyView[] = [];
  for (const f of exp.families) {
    const samples: string[] = [];
    for (const s of f.samples) {
      if (f.type === 'summary' && 'quantile' in s.labels) continue;
      const labels = { ...s.labels };
      if (side === 'store' && pidModes.has(f.name)) delete labels.pid;
      const sorted = Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      samples.push(`${s.name}${JSON.stringify(sorted)} ${Number.isNaN(s.value) ? 'NaN' : String(s.value)}`);
    }
    if (samples.length === 0) continue;
    out.push({ name: f.name, type: f.type, help: f.help, samples: samples.sort() });
  }
  return out;
}
