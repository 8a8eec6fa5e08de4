import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

// Debian's python3-prometheus-client lives in the system Python.
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const PARSE = [
  'import sys',
  'from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse',
  'list(parse(sys.stdin.read()))',
].join('\n');

/**
 * What the Python client's OpenMetrics parser (a second, independent opinion) rejects; `[]` when it accepts the
 * text or is not installed.
 */
export function pythonOpenMetricsProblems(text: string): string[] {
  const probe = spawnSync(PYTHON, ['-c', 'import prometheus_client.openmetrics.parser'], { stdio: 'ignore' });
  if (probe.status !== 0) return [];
  const result = spawnSync(PYTHON, ['-c', PARSE], { input: text, encoding: 'utf8', timeout: 20_000 });
  if (result.status === 0) return [];
  return [`python OpenMetrics parser: ${result.stderr.trim().split('\n').at(-1) ?? result.error?.message}`];
}

/**
 * A strict check of an OpenMetrics 1.0 text exposition (promtool 2.42 only reads the Prometheus text format).
 * Returns the problems found, one line each; an empty list means the exposition is valid as far as checked:
 * line syntax, label escaping, metadata before samples, one block per family, sample names allowed for the
 * family's type, counter families without `_total`, UNIT matching the name's suffix, one `# EOF` at the end;
 * plus the Python client's parser when it is installed.
 */
export function openMetricsProblems(text: string): string[] {
  const problems: string[] = [];
  if (!text.endsWith('# EOF\n')) problems.push('does not end with "# EOF\\n"');
  const lines = text.slice(0, -'# EOF\n'.length).split('\n');
  lines.pop(); // the newline before # EOF
  const seen = new Set<string>();
  let family: { name: string; type: string; sampled: boolean } | undefined;
  const name = '[a-zA-Z_:][a-zA-Z0-9_:]*';
  const label = `[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"`;
  const sampleRe = new RegExp(`^(${name})(?:\\{(?:${label}(?:,${label})*)?\\})? (\\S+)(?: \\S+)?$`);
  const value = /^(?:[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)|NaN|[+-]Inf)$/;
  lines.forEach((line, i) => {
    const where = `line ${i + 1} "${line.slice(0, 80)}"`;
    const meta = new RegExp(`^# (TYPE|HELP|UNIT) (${name})(?: (.*))?$`).exec(line);
    if (meta) {
      const [, kind, metric = '', rest = ''] = meta;
      if (family?.name !== metric) {
        if (seen.has(metric)) problems.push(`${where}: family ${metric} appears twice`);
        seen.add(metric);
        family = { name: metric, type: 'unknown', sampled: false };
      } else if (family.sampled) problems.push(`${where}: metadata after samples`);
      if (kind === 'TYPE') {
        family.type = rest;
        if (!/^(counter|gauge|histogram|gaugehistogram|summary|info|stateset|unknown)$/.test(rest)) {
          problems.push(`${where}: unknown type`);
        }
        if (rest === 'counter' && metric.endsWith('_total'))
          problems.push(`${where}: counter family named with _total`);
      }
      if (kind === 'UNIT' && !metric.endsWith(`_${rest}`)) problems.push(`${where}: name does not end with its unit`);
      return;
    }
    const sample = sampleRe.exec(line);
    if (!sample) {
      problems.push(`${where}: not a valid line`);
      return;
    }
    const [, metric = '', number = ''] = sample;
    if (!value.test(number)) problems.push(`${where}: bad value`);
    if (!family) {
      problems.push(`${where}: sample without # TYPE`);
      return;
    }
    family.sampled = true;
    const suffixes: Record<string, string[]> = {
      counter: ['_total', '_created'],
      histogram: ['_bucket', '_count', '_sum', '_created'],
      gaugehistogram: ['_gbucket', '_gcount', '_gsum'],
      summary: ['', '_count', '_sum', '_created'],
      info: ['_info'],
    };
    const allowed = (suffixes[family.type] ?? ['']).map((suffix) => family?.name + suffix);
    if (!allowed.includes(metric))
      problems.push(`${where}: sample ${metric} does not belong to ${family.type} ${family.name}`);
  });
  return [...problems, ...pythonOpenMetricsProblems(text)];
}
