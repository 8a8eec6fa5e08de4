import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { openStore } from '../../index.js';
import { type Child, startFixture } from '../../test-support/children.js';
import { type Exposition, parseExposition } from '../../test-support/exposition.js';
import { havePromtool, openMetricsProblems, promtoolProblems } from '../../test-support/validate.js';

/**
 * The conformance suite's harness: writer processes (support/writer.mjs) that attach prom-client
 * registries to a store in a temp dir, and a reader that scrapes the store as the aggregator does and
 * validates every document it gets with promtool and both of Python's parsers.
 */

/** One operation of support/writer.mjs (see there). */
export type Op =
  | { op: 'define'; kind: 'counter' | 'gauge' | 'histogram' | 'summary'; config: Record<string, unknown> }
  | { op: 'call'; name: string; method: string; args?: unknown[]; labels?: Record<string, unknown> }
  | { op: 'registry'; method: string; args?: unknown[] }
  | { op: 'flush' };

/** A number as it must travel over IPC (JSON has no NaN or Infinity). */
export function num(x: number): number | { $n: string } {
  return Number.isFinite(x) ? x : { $n: String(x) };
}

export interface Writer {
  child: Child;
  pid: number;
  run(ops: Op[], reg?: number): Promise<unknown>;
  flush(): Promise<boolean>;
}

/** A writer process with one registry (optionally with default labels) attached to the store in `dir`. */
export async function startWriter(dir: string, defaultLabels?: Record<string, string>): Promise<Writer> {
  const child = await startFixture('../conformance/support/writer.mjs', []);
  const pid = await child.call<number>('open', { dir, defaultLabels });
  return {
    child,
    pid,
    run: (ops, reg = 0) => child.call('run', { ops, reg }),
    flush: () => child.call<boolean>('flush'),
  };
}

/** Shorthands for writer operations. */
export const define = (kind: 'counter' | 'gauge' | 'histogram' | 'summary', config: Record<string, unknown>): Op => ({
  op: 'define',
  kind,
  config,
});
export const call = (name: string, method: string, ...args: unknown[]): Op => ({ op: 'call', name, method, args });
export const flush: Op = { op: 'flush' };

export interface Scrape {
  text: string;
  openmetrics: string;
  /** Both documents parsed by the strict reader (it throws on a line it cannot read). */
  exp: Exposition;
  om: Exposition;
  /** What promtool and Python's parsers reject in either document. */
  problems: string[];
}

const quiet = { warn: () => {}, info: () => {} };

/** Scrape the store in `dir` in both formats, as the aggregator does, and validate both documents. */
export async function scrape(dir: string): Promise<Scrape> {
  const reader = openStore({ dir, logger: quiet });
  try {
    const text = await reader.metrics();
    const openmetrics = await reader.metrics({ format: 'openmetrics' });
    const problems = validateDocuments([
      { format: 'prometheus', text },
      { format: 'openmetrics', text: openmetrics },
    ]);
    let exp: Exposition;
    let om: Exposition;
    try {
      exp = parseExposition(text);
    } catch (err) {
      problems.push(`text: ${(err as Error).message}`);
      exp = { families: [], samples: [] };
    }
    try {
      om = parseExposition(openmetrics, true);
    } catch (err) {
      problems.push(`openmetrics: ${(err as Error).message}`);
      om = { families: [], samples: [] };
    }
    return { text, openmetrics, exp, om, problems };
  } finally {
    reader.close();
  }
}

export interface Doc {
  format: 'prometheus' | 'openmetrics';
  text: string;
}

// Every document in one Python run (starting Python costs more than parsing): the text format with
// prometheus_client.parser, OpenMetrics with prometheus_client.openmetrics.parser (the strict one).
const PYTHON_CHECK = `
import json, sys
from prometheus_client.parser import text_string_to_metric_families as text_parse
from prometheus_client.openmetrics.parser import text_string_to_metric_families as om_parse
for i, doc in enumerate(json.load(sys.stdin)):
    try:
        for f in (om_parse if doc["format"] == "openmetrics" else text_parse)(doc["text"]):
            pass
    except Exception as e:
        print(f"document {i} ({doc['format']}): {type(e).__name__}: {e}"[:2000])
`;
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
let pythonOk: boolean | undefined;

/** Whether Python's parsers are installed; under CI they must be (as promtool must, see validate.ts). */
export function havePythonParsers(): boolean {
  if (pythonOk === undefined) {
    const r = spawnSync(PYTHON, ['-c', 'import prometheus_client.parser, prometheus_client.openmetrics.parser'], {
      encoding: 'utf8',
    });
    pythonOk = r.status === 0;
  }
  if (!pythonOk && process.env.CI) throw new Error('python3-prometheus-client is not installed, and CI requires it');
  return pythonOk;
}

/**
 * What promtool (text format, parse errors only: generated names need not follow naming lint), Python's
 * two parsers and our structural OpenMetrics rules reject in these documents.
 */
export function validateDocuments(docs: Doc[]): string[] {
  const problems: string[] = [];
  const texts = docs.filter((d) => d.format === 'prometheus').map((d) => d.text);
  if (texts.length > 0 && havePromtool()) problems.push(...promtoolProblems(oneDocument(texts), { lint: false }));
  docs.forEach((d, i) => {
    if (d.format === 'openmetrics')
      problems.push(...structuralProblems(d.text).map((p) => `document ${i} (openmetrics): ${p}`));
  });
  if (havePythonParsers() && docs.length > 0) {
    const r = spawnSync(PYTHON, ['-c', PYTHON_CHECK], {
      input: JSON.stringify(docs),
      encoding: 'utf8',
      maxBuffer: 1 << 26,
    });
    if (r.status !== 0) problems.push(`python parsers failed: ${r.stderr.trim().split('\n').at(-1)}`);
    else problems.push(...r.stdout.split('\n').filter((l) => l !== ''));
  }
  return problems;
}

/**
 * Text-format documents as one, for one promtool run (each run costs a quarter of a second here): every
 * metric name of document i gets the prefix `d<i>_`, so families stay distinct and every line keeps
 * whatever promtool would reject in it. A document with promtool's complaint is then found by its prefix.
 */
function oneDocument(texts: string[]): string {
  return texts
    .map((t, i) =>
      t.replace(/^(# (?:HELP|TYPE) )?(?=[a-zA-Z_:])/gm, (_, comment: string | undefined) => `${comment ?? ''}d${i}_`),
    )
    .join('');
}

/**
 * validate.ts's OpenMetrics rules, except that a histogram series may leave out both `_sum` and `_count`:
 * OpenMetrics 1.0 requires that of a histogram with negative observations (its sum is not a counter),
 * and Python's parser accepts it.
 */
function structuralProblems(text: string): string[] {
  const problems = openMetricsProblems(text, { python: false });
  let exp: Exposition;
  try {
    exp = parseExposition(text, true);
  } catch {
    return problems;
  }
  const allowed = new Set<string>();
  for (const f of exp.families) {
    if (f.type !== 'histogram') continue;
    const keyed = new Map<string, Set<string>>();
    for (const s of f.samples) {
      const { le: _le, ...rest } = s.labels;
      const key = JSON.stringify(Object.entries(rest).sort());
      const names = keyed.get(key) ?? new Set<string>();
      names.add(s.name);
      keyed.set(key, names);
    }
    for (const [key, names] of keyed) {
      if (names.has(`${f.name}_sum`) || names.has(`${f.name}_count`)) continue;
      allowed.add(`${f.name}${key} has no _sum`);
      allowed.add(`${f.name}${key} _count differs from the +Inf bucket`);
    }
  }
  return problems.filter((p) => !allowed.has(p));
}

/** The one sample with this name whose labels are exactly these (any order); undefined when none. */
export function value(exp: Exposition, name: string, labels: Record<string, string> = {}): number | undefined {
  const want = Object.entries(labels).sort();
  const found = exp.samples.filter(
    (s) => s.name === name && JSON.stringify(Object.entries(s.labels).sort()) === JSON.stringify(want),
  );
  if (found.length > 1) throw new Error(`${found.length} samples ${name}${JSON.stringify(labels)}`);
  return found[0]?.value;
}
