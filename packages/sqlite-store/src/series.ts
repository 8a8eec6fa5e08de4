import { labelKey } from './labels.js';
import type { Statements } from './statements.js';

/** The row id of a metric's series with this label set, if it has one. */
export function findSeries(s: Statements, metricId: number, labels: string): number | undefined {
  return s.findSeries.get(metricId, labelKey(labels), labels) as number | undefined;
}

/**
 * The row id of a metric's series with this label set, inserted when it has none. Call inside a write
 * transaction: no unique index stands between two writers (the index holds label keys, not label text), the
 * transaction does.
 */
export function seriesRow(s: Statements, metricId: number, labels: string): number {
  const key = labelKey(labels);
  const id = s.findSeries.get(metricId, key, labels) as number | undefined;
  return id ?? (s.insertSeries.get(metricId, key, labels) as { id: number }).id;
}
