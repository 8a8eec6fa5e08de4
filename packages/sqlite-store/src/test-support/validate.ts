import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { type Exposition, parseExposition } from './exposition.js';

/**
 * Validation of the store's output by real exposition parsers: Prometheus's own `promtool check metrics`
 * for the text format, and the Python client's strict OpenMetrics parser (Debian package
 * python3-prometheus-client) when installed, on top of our own structural checks of OpenMetrics.
 */

const PROMTOOL = ['/usr/bin/promtool', '/usr/local/bin/promtool'].find((p) => existsSync(p));

/** Whether promtool can run here; under CI it must (.ci/run installs it), elsewhere its checks are skipped. */
export function havePromtool(): boolean {
  if (PROMTOOL) return true;
  if (process.env.CI) throw new Error('promtool is not installed, and CI requires it');
  return false;
}

/**
 * Run `promtool check metrics` over the text. Exit 1 is a parse error, 3 a lint finding (e.g. a counter
 * without `_total`). Returns promtool's complaints; with `lint: false` only parse errors count.
 */
export function promtoolProblems(text: string, { lint = true } = {}): string[] {
  if (!PROMTOOL) throw new Error('promtool is not installed');
  const r = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8' });
  if (r.error) throw r.error;
  if (r.status === 0 || (r.status === 3 && !lint)) return [];
  return [`promtool exit ${r.status}: ${r.stdout}${r.stderr}`.trim()];
}

// Several documents per run (a JSON array on stdin): starting Python costs more than parsing.
const PYTHON_CHECK = `
import json, sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
for i, text in enumerate(json.load(sys.stdin)):
    try:
        for f in text_string_to_metric_families(text):
            pass
    except Exception as e:
        print(f"document {i}: {type(e).__name__}: {e}"[:2000])
`;

// The Debian package installs into the system Python, which a version manager's python3 may not see.
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
let pythonOk: boolean | undefined;

/** Whether the Python client's OpenMetrics parser is installed (an optional second opinion). */
export function havePythonOpenMetrics(): boolean {
  if (pythonOk === undefined) {
    const r = spawnSync(PYTHON, ['-c', 'import prometheus_client.openmetrics.parser'], { encoding: 'utf8' });
    pythonOk = r.status === 0;
  }
  return pythonOk;
}

/** What the Python client's strict OpenMetrics parser rejects in these documents ([] when it is not installed). */
export function pythonOpenMetricsProblems(texts: string[]): string[] {
  if (!havePythonOpenMetrics() || texts.length === 0) return [];
  const r = spawnSync(PYTHON, ['-c', PYTHON_CHECK], {
    input: JSON.stringify(texts),
    encoding: 'utf8',
    maxBuffer: 1 << 26,
  });
  if (r.status !== 0) return [`python OpenMetrics parser failed: ${r.stderr.trim().split('\n').at(-1)}`];
  return r.stdout.split('\n').filter((l) => l !== '');
}

/**
 * Problems found in an OpenMetrics exposition: our structural rules, plus the Python parser's verdict
 * (unless `python: false`, for callers that batch documents into pythonOpenMetricsProblems).
 */
export function openMetricsProblems(text: string, { python = true } = {}): string[] {
  const problems: string[] = [];
  let exp: Exposition;
  try {
    exp = parseExposition(text, true);
  } catch (err) {
    return [(err as Error).message];
  }
  const seenFamilies = new Set<string>();
  const seenSamples = new Set<string>();
  for (const f of exp.families) {
    if (seenFamilies.has(f.name)) problems.push(`family ${f.name} is not contiguous`);
    seenFamilies.add(f.name);
    if (f.type === undefined) problems.push(`family ${f.name} has no TYPE`);
    if (f.help === undefined) problems.push(`family ${f.name} has no HELP`);
    for (const s of f.samples) {
      const key = `${s.name}${JSON.stringify(Object.entries(s.labels).sort())}`;
      if (seenSamples.has(key)) problems.push(`duplicate sample ${key}`);
      seenSamples.add(key);
    }
    if (f.type === 'counter') {
      if (f.name.endsWith('_total')) problems.push(`counter family ${f.name} must not end with _total`);
      for (const s of f.samples) {
        if (s.name !== `${f.name}_total` && s.name !== `${f.name}_created`)
          problems.push(`counter sample ${s.name} in ${f.name}`);
        if (!(s.value >= 0)) problems.push(`counter ${s.name} has value ${s.value}`);
      }
    } else if (f.type === 'gauge') {
      for (const s of f.samples) if (s.name !== f.name) problems.push(`gauge sample ${s.name} in ${f.name}`);
    } else if (f.type === 'histogram') {
      problems.push(...histogramProblems(f.name, f.samples));
    } else if (f.type === 'summary') {
      for (const s of f.samples) {
        if (![`${f.name}_sum`, `${f.name}_count`].includes(s.name) && !(s.name === f.name && 'quantile' in s.labels)) {
          problems.push(`summary sample ${s.name} in ${f.name}`);
        }
      }
    }
  }
  if (python) problems.push(...pythonOpenMetricsProblems([text]));
  return problems;
}

/** Buckets ascending and cumulative, ending with +Inf equal to _count; _sum and _count as OpenMetrics allows. */
function histogramProblems(name: string, samples: Exposition['samples']): string[] {
  const problems: string[] = [];
  const groups = new Map<string, { buckets: [number, number][]; count?: number; sum?: number }>();
  for (const s of samples) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    const g = groups.get(key) ?? { buckets: [] };
    groups.set(key, g);
    if (s.name === `${name}_bucket` && le !== undefined)
      g.buckets.push([le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le), s.value]);
    else if (s.name === `${name}_count`) g.count = s.value;
    else if (s.name === `${name}_sum`) g.sum = s.value;
    else problems.push(`histogram sample ${s.name} in ${name}`);
  }
  for (const [key, g] of groups) {
    const les = g.buckets.map((b) => b[0]);
    if (les.at(-1) !== Number.POSITIVE_INFINITY) problems.push(`${name}${key} has no +Inf bucket`);
    for (let i = 1; i < g.buckets.length; i++) {
      const [le0, v0] = g.buckets[i - 1] as [number, number];
      const [le1, v1] = g.buckets[i] as [number, number];
      if (!(le1 > le0)) problems.push(`${name}${key} buckets not ascending`);
      if (v1 < v0) problems.push(`${name}${key} buckets not cumulative`);
    }
    // OpenMetrics 1.0: _sum and _count come together or not at all; _sum is a counter (never negative or
    // NaN); a histogram with negative bucket bounds has no _sum.
    if (g.count !== undefined && g.count !== g.buckets.at(-1)?.[1]) {
      problems.push(`${name}${key} _count differs from the +Inf bucket`);
    }
    if ((g.sum === undefined) !== (g.count === undefined))
      problems.push(`${name}${key} has only one of _sum and _count`);
    if (g.sum !== undefined && !(g.sum >= 0)) problems.push(`${name}${key} has a negative or NaN _sum`);
    if (g.sum !== undefined && les.some((le) => le < 0)) problems.push(`${name}${key} has negative buckets and a _sum`);
  }
  return problems;
}
