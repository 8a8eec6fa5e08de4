/**
 * Exemplars across processes (issue 16 §1). prom-client records one exemplar per counter series and one
 * per histogram bucket (`enableExemplars: true`; prom-internals.ts reads where it keeps them). A flush
 * writes the ones that changed since the last flush to the `exemplars` table, one row per series and slot
 * (slot 0 for a counter, the bucket's index for a histogram, the bucket count for +Inf), keeping the most
 * recent exemplar of any process: a row is replaced only by one with a later or equal timestamp. A scrape
 * in OpenMetrics renders them after their sample; the Prometheus text format has no exemplars.
 *
 * What the store writes is valid OpenMetrics whatever the application passed: label names must match
 * `[a-zA-Z_][a-zA-Z0-9_]*`, names and values together at most 128 code points (the spec's limit), the value
 * a finite number. An exemplar that is not is left out (reported once per metric by the flush).
 */

import { BATCH_ROWS } from './batch.js';
import type { MetricDef } from './describe.js';
import { escapeLabelValue, formatNumber, LABEL_NAME, wellFormed } from './labels.js';
import type { PromEntry, PromExemplar } from './prom-internals.js';
import type { Statements } from './statements.js';
import type { FlushNotice } from './writer.js';

/** OpenMetrics 1.0: "The combined length of the label names and values of an Exemplar's LabelSet MUST NOT exceed 128 UTF-8 character code points." */
export const EXEMPLAR_LABELS_MAX = 128;

/** What was last written for one slot: the exemplar object as prom-client mutates it, and its parts then. */
interface Written {
  labelSet: unknown;
  value: number;
  timestamp: number;
}

/** The exemplars last written for one series, by slot (allocated at the first exemplar). */
export type SeriesExemplars = Array<Written | undefined>;

/**
 * Encode an exemplar's label set as the exposition writes it (`trace_id="abc"`), or say why it cannot be
 * stored.
 */
export function encodeExemplarLabels(labelSet: unknown): string | { problem: string } {
  if (labelSet === null || typeof labelSet !== 'object' || Array.isArray(labelSet)) {
    return { problem: `exemplar labels ${String(labelSet)} are not an object` };
  }
  let out = '';
  let length = 0;
  for (const [name, raw] of Object.entries(labelSet)) {
    if (!LABEL_NAME.test(name)) return { problem: `exemplar label name ${JSON.stringify(name)} is not valid` };
    if (typeof raw !== 'string' && typeof raw !== 'number') {
      return { problem: `exemplar label ${name} is ${typeof raw}, not a string` };
    }
    const value = wellFormed(String(raw));
    // Code points: a surrogate pair (well-formed by now) is one.
    length += name.length + (/[\uD800-\uDBFF]/.test(value) ? [...value].length : value.length);
    out += `${out ? ',' : ''}${name}="${escapeLabelValue(value)}"`;
  }
  if (length > EXEMPLAR_LABELS_MAX) {
    return {
      problem: `exemplar labels {${out.slice(0, 60)}...} are ${length} characters, over OpenMetrics' ${EXEMPLAR_LABELS_MAX}`,
    };
  }
  return out;
}

/**
 * Exemplar rows sent BATCH_ROWS at a time (one statement per row was most of a flush's exemplar cost),
 * the remainder one row per statement; `finish()` before the transaction ends.
 */
export class ExemplarBatch {
  private readonly args: unknown[] = [];

  constructor(private readonly s: Statements) {}

  add(sid: number, slot: number, labels: string, value: number, ts: number): void {
    this.args.push(sid, slot, labels, value, ts);
    if (this.args.length === BATCH_ROWS * 5) {
      this.s.upsertExemplars.run(this.args);
      this.args.length = 0;
    }
  }

  clear(): void {
    this.args.length = 0;
  }

  finish(): void {
    for (let i = 0; i < this.args.length; i += 5) this.s.upsertExemplar.run(this.args.slice(i, i + 5));
    this.args.length = 0;
  }
}

/**
 * Write the exemplars of one series that changed since they were last written (inside the flush's
 * transaction) and push the commit step that remembers them. `slots` are the entry's exemplars by slot.
 */
export function writeExemplars(
  rows: ExemplarBatch,
  def: MetricDef,
  sid: number,
  slots: ReadonlyArray<PromExemplar | null | undefined>,
  written: { exemplars: SeriesExemplars | undefined },
  notices: FlushNotice[],
  commits: Array<() => void>,
): void {
  let changed: Array<[number, Written]> | undefined;
  for (let slot = 0; slot < slots.length; slot++) {
    const e = slots[slot];
    if (!e || typeof e.timestamp !== 'number') continue;
    const last = written.exemplars?.[slot];
    if (last && last.labelSet === e.labelSet && last.value === e.value && last.timestamp === e.timestamp) continue;
    const now: Written = { labelSet: e.labelSet, value: e.value, timestamp: e.timestamp };
    if (!changed) changed = [];
    changed.push([slot, now]);
    const labels = encodeExemplarLabels(e.labelSet);
    if (typeof labels !== 'string' || !Number.isFinite(e.value) || !Number.isFinite(e.timestamp)) {
      const problem = typeof labels === 'string' ? `exemplar value ${e.value} is not a finite number` : labels.problem;
      notices.push({
        metric: def.name,
        message: 'exemplar not stored',
        text: `metric ${def.name}: an exemplar was not stored: ${problem}`,
      });
      continue;
    }
    rows.add(sid, slot, labels, e.value, e.timestamp);
  }
  if (!changed) return;
  const done = changed;
  commits.push(() => {
    if (!written.exemplars) written.exemplars = [];
    const list = written.exemplars;
    for (const [slot, w] of done) list[slot] = w;
  });
}

/** A counter entry's exemplar slots (one), or undefined when it has none. */
export function counterExemplars(entry: PromEntry): [PromExemplar] | undefined {
  const e = entry.exemplar;
  return e ? [e] : undefined;
}

/** A histogram entry's exemplar slots (its buckets in `bucketKeys` order, then +Inf), or undefined. */
export function histogramExemplars(
  entry: PromEntry,
  bucketKeys: readonly string[],
): Array<PromExemplar | null> | undefined {
  const by = entry.bucketExemplars;
  if (!by) return undefined;
  const out: Array<PromExemplar | null> = [];
  for (const key of bucketKeys) out.push(by[key] ?? null);
  out.push(by['-1'] ?? null); // prom-client files the +Inf bucket's exemplar under -1
  return out;
}

/** An exemplar row as read for the scrape: series_id, slot, labels, value, ts. */
export type ExemplarRow = [seriesId: number, slot: number, labels: string, value: number, ts: number];

/** The exemplars of a scrape by series id, then slot. */
export function exemplarsBySeries(rows: readonly ExemplarRow[]): Map<number, string[]> {
  const out = new Map<number, string[]>();
  for (const [sid, slot, labels, value, ts] of rows) {
    let list = out.get(sid);
    if (!list) {
      list = [];
      out.set(sid, list);
    }
    list[slot] = ` # {${labels}} ${formatNumber(value)} ${formatNumber(ts)}`;
  }
  return out;
}
