/**
 * Series are keyed by their label set rendered once, exactly as the exposition writes it
 * (`method="GET",route="/x"`). The key is canonical (declared label order), reversible (the escaping is),
 * and makes rendering a scrape a string concatenation.
 */

/** A valid label name of the text exposition and OpenMetrics. */
export const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Escape a label value for the text exposition: backslash, double quote and line feed. */
export function escapeLabelValue(value: string): string {
  return /[\\"\n]/.test(value) ? value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') : value;
}

/** Escape HELP text: backslash and line feed (text format 0.0.4); OpenMetrics also escapes double quotes. */
export function escapeHelp(help: string, openMetrics: boolean): string {
  let out = help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
  if (openMetrics) out = out.replace(/"/g, '\\"');
  return out;
}

/**
 * Replace lone UTF-16 surrogates by one U+FFFD each, as Node's UTF-8 encoding of the scrape would: stored as
 * they are, SQLite's UTF-8 turns one into three U+FFFD (issue 13 §2). Run once per series, not per flush.
 */
export function wellFormed(value: string): string {
  return /[\uD800-\uDFFF]/.test(value)
    ? value.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD')
    : value;
}

/**
 * Render a label set in `names` order, a registry default label in its declared position when the metric
 * declares that name and the series does not set it (as prom-client renders it, issue 13 §1.4), then the
 * other default labels. Labels a series does not carry are left out, as prom-client does.
 */
export function encodeLabels(
  names: readonly string[],
  labels: Readonly<Record<string, unknown>>,
  defaults: Readonly<Record<string, unknown>> | undefined,
): string {
  let out = '';
  for (const name of names) {
    const v = labels[name] ?? defaults?.[name];
    if (v === undefined) continue;
    out += `${out ? ',' : ''}${name}="${escapeLabelValue(wellFormed(String(v)))}"`;
  }
  if (defaults) {
    for (const name of Object.keys(defaults)) {
      if (labels[name] !== undefined || names.includes(name)) continue;
      out += `${out ? ',' : ''}${name}="${escapeLabelValue(wellFormed(String(defaults[name])))}"`;
    }
  }
  return out;
}

/** The label names of a label set rendered by encodeLabels (values may hold any escaped character). */
export function labelNamesOf(labels: string): string[] {
  const names: string[] = [];
  let i = 0;
  while (i < labels.length) {
    const eq = labels.indexOf('="', i);
    if (eq < 0) break;
    names.push(labels.slice(i, eq));
    i = eq + 2;
    while (i < labels.length && labels[i] !== '"') i += labels[i] === '\\' ? 2 : 1;
    i += 2; // the closing quote and the comma
  }
  return names;
}

/** Format a sample value as Prometheus parses it. */
export function formatNumber(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Number.POSITIVE_INFINITY) return '+Inf';
  if (v === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(v);
}

/**
 * The `series.key` of a label set (schema version 2): its 32-bit FNV-1a hash over the UTF-16 code units,
 * as a signed integer. The index finds a series by (metric, key) and holds no label text (the file at
 * S=100000 held every label set twice before); label sets whose keys collide are told apart by their text.
 *
 * @example
 * labelKey('') // -2128831035
 */
export function labelKey(labels: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < labels.length; i++) h = Math.imul(h ^ labels.charCodeAt(i), 0x01000193);
  return h | 0;
}
