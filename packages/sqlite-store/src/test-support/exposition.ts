/**
 * A strict reader of the text expositions the store renders (Prometheus 0.0.4 and OpenMetrics 1.0),
 * written for the tests from the format specifications: it throws on any line it cannot read, so a
 * test that reads a value back has also checked the syntax around it. Label values are unescaped
 * exactly as a scraper would (`\\`, `\"`, `\n`; nothing else is an escape).
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
  /** OpenMetrics only: the exemplar after the sample (`# {labels} value timestamp`). */
  exemplar?: { labels: Record<string, string>; value: number; timestamp: number | undefined };
}

export interface Family {
  name: string;
  type: string | undefined;
  help: string | undefined;
  samples: Sample[];
}

export interface Exposition {
  families: Family[];
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;

/** Parse a whole exposition; `openMetrics` also requires the final `# EOF` and no blank lines. */
export function parseExposition(text: string, openMetrics = false): Exposition {
  if (text !== '' && !text.endsWith('\n')) throw new Error('exposition does not end with a line feed');
  const lines = text === '' ? [] : text.slice(0, -1).split('\n');
  if (openMetrics) {
    if (lines.at(-1) !== '# EOF') throw new Error('OpenMetrics exposition does not end with "# EOF"');
    lines.pop();
  }
  const families: Family[] = [];
  const samples: Sample[] = [];
  let current: Family | undefined;
  const family = (name: string) => {
    if (current?.name !== name) {
      current = { name, type: undefined, help: undefined, samples: [] };
      families.push(current);
    }
    return current;
  };
  lines.forEach((line, i) => {
    const where = `line ${i + 1} ${JSON.stringify(line.slice(0, 120))}`;
    if (line === '') {
      if (openMetrics) throw new Error(`blank ${where}`);
      return;
    }
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE|UNIT) ([a-zA-Z_:][a-zA-Z0-9_:]*) ?(.*)$/.exec(line);
      if (!m) {
        if (openMetrics) throw new Error(`unknown comment ${where}`);
        return;
      }
      const [, kind, name, rest] = m as unknown as [string, string, string, string];
      const f = family(name);
      if (kind === 'HELP') f.help = unescapeHelp(rest, openMetrics, where);
      else if (kind === 'TYPE') f.type = rest;
      return;
    }
    const sample = parseSample(line, where, openMetrics);
    samples.push(sample);
    (current && belongsTo(sample.name, current) ? current : family(sample.name)).samples.push(sample);
  });
  return { families, samples };
}

function belongsTo(sample: string, f: Family): boolean {
  if (sample === f.name) return true;
  const suffixes = ['_total', '_created', '_bucket', '_sum', '_count', '_gcount', '_gsum', '_info'];
  return suffixes.some((s) => sample === f.name + s);
}

function parseSample(line: string, where: string, openMetrics: boolean): Sample {
  const name = NAME.exec(line)?.[0];
  if (!name) throw new Error(`no metric name at ${where}`);
  const labels: Record<string, string> = {};
  const i = line[name.length] === '{' ? parseLabels(line, name.length, labels, where) : name.length;
  let rest = line.slice(i);
  let exemplar: Sample['exemplar'];
  const hash = rest.indexOf(' # ');
  if (openMetrics && hash >= 0) {
    // OpenMetrics 1.0 exemplar: ` # {labels} value [timestamp]`, labels at most 128 code points in all.
    const at = i + hash + 3;
    if (line[at] !== '{') throw new Error(`exemplar without labels in ${where}`);
    const exLabels: Record<string, string> = {};
    const end = parseLabels(line, at, exLabels, where);
    const size = Object.entries(exLabels).reduce((n, [k, v]) => n + k.length + [...v].length, 0);
    if (size > 128) throw new Error(`exemplar labels of ${size} characters in ${where}`);
    const m = /^ (\S+)(?: (\S+))?$/.exec(line.slice(end));
    if (!m) throw new Error(`bad exemplar value part in ${where}`);
    const timestamp = m[2] === undefined ? undefined : parseValue(m[2], where);
    exemplar = { labels: exLabels, value: parseValue(m[1] as string, where), timestamp };
    rest = rest.slice(0, hash);
  }
  const m = /^ (\S+)( -?\d+(\.\d+)?)?$/.exec(rest);
  if (!m) throw new Error(`bad value part ${JSON.stringify(rest)} in ${where}`);
  const sample: Sample = { name, labels, value: parseValue(m[1] as string, where) };
  if (exemplar) sample.exemplar = exemplar;
  return sample;
}

/** Read the label set that opens at `line[start]` (`{`) into `labels`; returns the index after its `}`. */
function parseLabels(line: string, start: number, labels: Record<string, string>, where: string): number {
  let i = start + 1;
  while (line[i] !== '}') {
    const key = LABEL_NAME.exec(line.slice(i))?.[0];
    if (!key) throw new Error(`bad label name at column ${i} of ${where}`);
    i += key.length;
    if (line.slice(i, i + 2) !== '="') throw new Error(`expected =" at column ${i} of ${where}`);
    i += 2;
    let value = '';
    for (;;) {
      const c = line[i];
      if (c === undefined) throw new Error(`unterminated label value in ${where}`);
      i++;
      if (c === '"') break;
      if (c === '\\') {
        const e = line[i++];
        if (e === '\\') value += '\\';
        else if (e === '"') value += '"';
        else if (e === 'n') value += '\n';
        else throw new Error(`bad escape \\${e} in ${where}`);
      } else value += c;
    }
    if (key in labels) throw new Error(`duplicate label ${key} in ${where}`);
    labels[key] = value;
    if (line[i] === ',') i++;
    else if (line[i] !== '}') throw new Error(`expected , or } at column ${i} of ${where}`);
  }
  return i + 1;
}

function parseValue(text: string, where: string): number {
  if (text === 'NaN') return Number.NaN;
  if (text === '+Inf' || text === 'Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`bad number ${text} in ${where}`);
  return Number(text);
}

function unescapeHelp(text: string, openMetrics: boolean, where: string): string {
  return text.replace(/\\(.)/g, (_, e: string) => {
    if (e === '\\') return '\\';
    if (e === 'n') return '\n';
    if (e === '"' && openMetrics) return '"';
    throw new Error(`bad escape in HELP at ${where}`);
  });
}

/** The value of the one sample with exactly this name and these labels; undefined when there is none. */
export function sampleValue(exp: Exposition, name: string, labels: Record<string, string> = {}): number | undefined {
  const found = exp.samples.filter((s) => s.name === name && sameLabels(s.labels, labels));
  if (found.length > 1) throw new Error(`${found.length} samples ${name}${JSON.stringify(labels)}`);
  return found[0]?.value;
}

/** Samples of this name, whatever their labels. */
export function samplesOf(exp: Exposition, name: string): Sample[] {
  return exp.samples.filter((s) => s.name === name);
}

function sameLabels(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}
