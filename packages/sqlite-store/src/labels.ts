/**
 * Series are keyed by their label set rendered once, exactly as the exposition writes it
 * (`method="GET",route="/x"`). The key is canonical (declared label order), reversible (the escaping is),
 * and makes rendering a scrape a string concatenation.
 */

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
 * Render a label set in `names` order, then any default labels the registry adds. Labels a series does not
 * carry are left out, as prom-client does.
 */
export function encodeLabels(
  names: readonly string[],
  labels: Readonly<Record<string, unknown>>,
  defaults: Readonly<Record<string, unknown>> | undefined,
): string {
  let out = '';
  for (const name of names) {
    const v = labels[name];
    if (v === undefined) continue;
    out += `${out ? ',' : ''}${name}="${escapeLabelValue(String(v))}"`;
  }
  if (defaults) {
    for (const name of Object.keys(defaults)) {
      if (labels[name] !== undefined || names.includes(name)) continue;
      out += `${out ? ',' : ''}${name}="${escapeLabelValue(String(defaults[name]))}"`;
    }
  }
  return out;
}

/** Format a sample value as Prometheus parses it. */
export function formatNumber(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Number.POSITIVE_INFINITY) return '+Inf';
  if (v === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(v);
}
