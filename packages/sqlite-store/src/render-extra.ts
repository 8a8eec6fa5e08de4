import { ConfigError } from './errors.js';
import { escapeHelp, escapeLabelValue, formatNumber, LABEL_NAME, wellFormed } from './labels.js';
import type { ExtraFamily } from './types.js';

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const UNIT = /^[a-zA-Z0-9_]+$/;
const TYPES = ['counter', 'gauge'];

/**
 * Check extra families before anything is rendered, so a bad one is a ConfigError naming the bad value
 * instead of an exposition that Prometheus rejects as a whole. Returns the families, for chaining.
 */
export function validateExtraFamilies(families: unknown): readonly ExtraFamily[] {
  if (!Array.isArray(families)) throw new ConfigError('extraFamilies', families, 'an array of metric families');
  const seen = new Set<string>();
  families.forEach((f: ExtraFamily, i) => {
    const at = `extraFamilies[${i}]`;
    if (f === null || typeof f !== 'object') throw new ConfigError(at, f, 'an object { name, type, help, samples }');
    if (typeof f.name !== 'string' || !METRIC_NAME.test(f.name)) {
      throw new ConfigError(`${at}.name`, f.name, 'a metric name matching [a-zA-Z_:][a-zA-Z0-9_:]*');
    }
    if (!TYPES.includes(f.type)) throw new ConfigError(`${at}.type`, f.type, `one of ${TYPES.join(', ')}`);
    const family = familyName(f);
    if (seen.has(family)) throw new ConfigError(`${at}.name`, f.name, 'a family name not used by another extra family');
    seen.add(family);
    if (typeof f.help !== 'string') throw new ConfigError(`${at}.help`, f.help, 'a string');
    if (f.unit !== undefined && (typeof f.unit !== 'string' || !UNIT.test(f.unit) || !family.endsWith(`_${f.unit}`))) {
      throw new ConfigError(
        `${at}.unit`,
        f.unit,
        `a unit that the family name ${family} ends with (after an underscore)`,
      );
    }
    if (!Array.isArray(f.samples)) throw new ConfigError(`${at}.samples`, f.samples, 'an array of { labels?, value }');
    const labelSets = new Set<string>();
    f.samples.forEach((s, j) => {
      const sat = `${at}.samples[${j}]`;
      if (s === null || typeof s !== 'object') throw new ConfigError(sat, s, 'an object { labels?, value }');
      if (typeof s.value !== 'number') throw new ConfigError(`${sat}.value`, s.value, 'a number');
      // OpenMetrics counters are never negative (NaN is allowed by neither reader we check against).
      if (f.type === 'counter' && !(s.value >= 0))
        throw new ConfigError(`${sat}.value`, s.value, 'a counter value >= 0');
      if (s.labels !== undefined && (s.labels === null || typeof s.labels !== 'object')) {
        throw new ConfigError(`${sat}.labels`, s.labels, 'an object of label names to string values');
      }
      for (const [name, value] of Object.entries(s.labels ?? {})) {
        if (!LABEL_NAME.test(name) || name.startsWith('__')) {
          throw new ConfigError(
            `${sat}.labels name`,
            name,
            'a label name matching [a-zA-Z_][a-zA-Z0-9_]*, not starting with __',
          );
        }
        if (typeof value !== 'string') throw new ConfigError(`${sat}.labels.${name}`, value, 'a string');
      }
      const key = renderLabels(s.labels);
      if (labelSets.has(key))
        throw new ConfigError(`${sat}.labels`, s.labels, `a label set not used twice in ${family}`);
      labelSets.add(key);
    });
  });
  return families;
}

/**
 * The names an extra family takes in the exposition: a counter's family is named without `_total` (whether
 * or not `name` ends with it) and its samples with it, in both formats, as Prometheus naming asks.
 */
export function familyName(f: Pick<ExtraFamily, 'name' | 'type'>): string {
  return f.type === 'counter' && f.name.endsWith('_total') ? f.name.slice(0, -6) : f.name;
}

/**
 * Render validated extra families with the store's own escaping and number rules. The Prometheus text
 * format names a counter's HELP and TYPE by its sample (`x_total`); OpenMetrics by its family (`x`), with
 * `# UNIT` when given. No `# EOF`: the caller ends the document.
 */
export function renderExtraFamilies(families: readonly ExtraFamily[], openMetrics: boolean): string {
  let out = '';
  for (const f of families) {
    const family = familyName(f);
    const sample = f.type === 'counter' ? `${family}_total` : family;
    if (openMetrics) {
      out += `# TYPE ${family} ${f.type}\n`;
      if (f.unit !== undefined) out += `# UNIT ${family} ${f.unit}\n`;
      out += `# HELP ${family} ${escapeHelp(wellFormed(f.help), true)}\n`;
    } else {
      out += `# HELP ${sample} ${escapeHelp(wellFormed(f.help), false)}\n# TYPE ${sample} ${f.type}\n`;
    }
    for (const s of f.samples) out += `${sample}${renderLabels(s.labels)} ${formatNumber(s.value)}\n`;
  }
  return out;
}

function renderLabels(labels: Readonly<Record<string, string>> | undefined): string {
  if (labels === undefined) return '';
  const pairs = Object.entries(labels).map(([name, value]) => `${name}="${escapeLabelValue(wellFormed(value))}"`);
  return pairs.length === 0 ? '' : `{${pairs.join(',')}}`;
}
