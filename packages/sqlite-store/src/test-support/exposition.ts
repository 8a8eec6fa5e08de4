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
    const sample = parseSample(line, where);
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

function parseSample(line: string, where: string): Sample {
  const name = NAME.exec(line)?.[0];
  if (!name) throw new Error(`no metric name at ${where}`);
  let i = name.length;
  const labels: Record<string, string> = {};
  if (line[i] === '{') {
    i++;
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
    i++;
  }
  const rest = line.slice(i);
  const m = /^ (\S+)( -?\d+(\.\d+)?)?$/.exec(rest);
  if (!m) throw new Error(`bad value part ${JSON.stringify(rest)} in ${where}`);
  return { name, labels, value: parseValue(m[1] as string, where) };
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
