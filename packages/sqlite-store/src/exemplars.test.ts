/**
 * Issue 16 §1: exemplars recorded in worker processes reach the merged OpenMetrics exposition, the most
 * recent of any process per counter series and histogram bucket, valid per the spec (checked by the
 * strict reader, promtool and Python's OpenMetrics parser through the conformance harness), and absent from
 * the Prometheus text format.
 */

import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { call, define, flush, scrape, startWriter } from './conformance/support/harness.js';
import { encodeExemplarLabels } from './exemplars.js';
import { killAll, killHard, removeTempDirs, tempDir } from './test-support/children.js';
import { type Exposition, parseExposition, type Sample } from './test-support/exposition.js';

afterEach(killAll);
afterAll(removeTempDirs);

const COUNTER = define('counter', {
  name: 'jobs_total',
  help: 'Jobs',
  labelNames: ['kind'],
  enableExemplars: true,
});
const HISTOGRAM = define('histogram', {
  name: 'latency_seconds',
  help: 'Latency',
  labelNames: ['route'],
  buckets: [0.1, 1],
  enableExemplars: true,
});
const inc = (kind: string, value: number, trace?: string) =>
  call('jobs_total', 'inc', { labels: { kind }, value, exemplarLabels: trace ? { trace_id: trace } : undefined });
const observe = (route: string, value: number, trace?: string) =>
  call('latency_seconds', 'observe', { labels: { route }, value, exemplarLabels: trace ? { trace_id: trace } : {} });

function find(exp: Exposition, name: string, labels: Record<string, string>): Sample {
  const found = exp.samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (!found) throw new Error(`no sample ${name}${JSON.stringify(labels)}`);
  return found;
}
const sorted = (labels: Record<string, string>) => Object.fromEntries(Object.entries(labels).sort());
const traceOf = (exp: Exposition, name: string, labels: Record<string, string>) =>
  find(exp, name, labels).exemplar?.labels.trace_id;

describe('exemplars across processes', () => {
  it('a single writer renders the exemplars prom-client itself renders for the same operations', async () => {
    const dir = tempDir().dir;
    const w = await startWriter(dir);
    const ops = [
      COUNTER,
      HISTOGRAM,
      inc('a', 2, 'c0ffee'),
      inc('b', 1), // no exemplar
      observe('/x', 0.05, 'aaaa'),
      observe('/x', 0.5, 'bbbb'),
      observe('/x', 7, 'cccc'), // the +Inf bucket
      observe('/y', 0.05), // no exemplar
    ];
    const reference = await w.child.call<{ openmetrics: string; flushed: boolean }>('program', { dir, ops });
    expect(reference.flushed).toBe(true);
    const got = await scrape(dir);
    expect(got.problems).toEqual([]);
    // prom-client's own OpenMetrics samples, exemplars included, read by the strict reader; timestamps are
    // compared apart (the reference registry recorded each operation right after the stored one), and
    // label order is a documented difference (prom-client puts `le` first).
    const withExemplar = (text: string) =>
      parseExposition(text, true)
        .samples.filter((x) => x.exemplar)
        .map((x) => ({ ...x, labels: sorted(x.labels), exemplar: { ...x.exemplar, timestamp: 0 } }));
    expect(withExemplar(got.openmetrics)).toEqual(withExemplar(reference.openmetrics));
    expect(
      got.openmetrics
        .split('\n')
        .filter((l) => l.includes(' # {'))
        .map((l) => l.replace(/ [0-9.]+$/, '')),
    ).toEqual([
      'jobs_total{kind="a"} 2 # {trace_id="c0ffee"} 2',
      'latency_seconds_bucket{route="/x",le="0.1"} 1 # {trace_id="aaaa"} 0.05',
      'latency_seconds_bucket{route="/x",le="1"} 2 # {trace_id="bbbb"} 0.5',
      'latency_seconds_bucket{route="/x",le="+Inf"} 3 # {trace_id="cccc"} 7',
    ]);
    const ts = find(got.om, 'jobs_total', { kind: 'a' }).exemplar?.timestamp ?? 0;
    expect(Math.abs(ts - Date.now() / 1000)).toBeLessThan(60);
    // The Prometheus text format has no exemplars.
    expect(got.text).not.toContain('#  {');
    expect(got.text.split('\n').filter((l) => !l.startsWith('#') && l.includes('#'))).toEqual([]);
  });

  it('the merged view keeps, per series and bucket, the most recent exemplar of any process', async () => {
    const dir = tempDir().dir;
    const [a, b] = await Promise.all([startWriter(dir), startWriter(dir)]);
    await a.run([COUNTER, HISTOGRAM, inc('k', 1, 'a-old'), observe('/x', 0.05, 'a-old')]);
    await new Promise((r) => setTimeout(r, 20));
    await b.run([COUNTER, HISTOGRAM, inc('k', 1, 'b-new'), observe('/x', 0.05, 'b-new'), observe('/x', 0.5, 'b-only')]);
    // The newer one is flushed first: the older one, flushed after it, must not replace it.
    expect(await b.flush()).toBe(true);
    expect(await a.flush()).toBe(true);
    let got = await scrape(dir);
    expect(got.problems).toEqual([]);
    expect(find(got.om, 'jobs_total', { kind: 'k' }).value).toBe(2);
    expect(traceOf(got.om, 'jobs_total', { kind: 'k' })).toBe('b-new');
    expect(traceOf(got.om, 'latency_seconds_bucket', { route: '/x', le: '0.1' })).toBe('b-new');
    expect(traceOf(got.om, 'latency_seconds_bucket', { route: '/x', le: '1' })).toBe('b-only');

    // A later exemplar of the other process replaces it; buckets it did not touch keep theirs.
    await a.run([inc('k', 3, 'a-latest'), observe('/x', 0.07, 'a-latest'), flush]);
    got = await scrape(dir);
    expect(find(got.om, 'jobs_total', { kind: 'k' }).value).toBe(5);
    expect(find(got.om, 'jobs_total', { kind: 'k' }).exemplar).toMatchObject({
      labels: { trace_id: 'a-latest' },
      value: 3,
    });
    expect(traceOf(got.om, 'latency_seconds_bucket', { route: '/x', le: '0.1' })).toBe('a-latest');
    expect(traceOf(got.om, 'latency_seconds_bucket', { route: '/x', le: '1' })).toBe('b-only');

    // A dead process's exemplars stay, as its counts do: they describe requests that happened.
    await killHard(b.child);
    got = await scrape(dir);
    expect(traceOf(got.om, 'latency_seconds_bucket', { route: '/x', le: '1' })).toBe('b-only');
  });

  it('a flush of many changed series writes every one of their exemplars (in batches and a remainder)', async () => {
    const dir = tempDir().dir;
    const w = await startWriter(dir);
    const n = 150; // two batches of 64 rows, then 22 one by one
    await w.run([COUNTER, ...Array.from({ length: n }, (_, i) => inc(`k${i}`, 1, `t${i}`)), flush]);
    const got = await scrape(dir);
    expect(got.problems).toEqual([]);
    for (let i = 0; i < n; i++) expect(traceOf(got.om, 'jobs_total', { kind: `k${i}` })).toBe(`t${i}`);
  });

  it('an idle flush writes no exemplar again, and a definition replaced by a deploy takes its exemplars along', async () => {
    const dir = tempDir().dir;
    const w = await startWriter(dir);
    await w.run([COUNTER, inc('k', 1, 't1'), flush]);
    const db = join(dir, 'kci-metrics.sqlite');
    const rows = () => {
      const d = new Database(db, { readonly: true });
      try {
        return d.prepare('SELECT slot, labels, ts FROM exemplars').all();
      } finally {
        d.close();
      }
    };
    const first = rows();
    expect(first).toHaveLength(1);
    await w.run([flush, flush]);
    expect(rows()).toEqual(first);
    await killHard(w.child);
    // The next deploy defines jobs_total with other labels: the old definition's series and exemplars go.
    const next = await startWriter(dir);
    await next.run([define('counter', { name: 'jobs_total', help: 'Jobs', labelNames: ['queue'] }), flush]);
    expect(rows()).toEqual([]);
  });

  it('an exemplar that is not valid OpenMetrics is left out and reported once, and the values are all kept', async () => {
    const dir = tempDir().dir;
    const w = await startWriter(dir);
    // prom-client checks the length of an exemplar's labels, not their names: this one it would render as is.
    await w.run([
      COUNTER,
      call('jobs_total', 'inc', { labels: { kind: 'k' }, value: 1, exemplarLabels: { 'trace-id': 'x' } }),
      call('jobs_total', 'inc', { labels: { kind: 'j' }, value: 1, exemplarLabels: { 'span-id': 'y' } }),
      flush,
    ]);
    const got = await scrape(dir);
    expect(got.problems).toEqual([]);
    expect(find(got.om, 'jobs_total', { kind: 'k' })).toMatchObject({ value: 1 });
    expect(find(got.om, 'jobs_total', { kind: 'k' }).exemplar).toBeUndefined();
    expect(find(got.om, 'jobs_total', { kind: 'j' }).value).toBe(1);
    const warnings = w.child
      .stderr()
      .split('\n')
      .filter((l) => l.includes('exemplar'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('exemplar label name "trace-id" is not valid');
  });
});

describe('encodeExemplarLabels', () => {
  it('escapes values and enforces the 128 code point limit of OpenMetrics (names and values together)', () => {
    expect(encodeExemplarLabels({ trace_id: 'a"b\\c\nd' })).toBe('trace_id="a\\"b\\\\c\\nd"');
    // 8 + 120 = 128 code points; one emoji is one code point (two UTF-16 units).
    expect(typeof encodeExemplarLabels({ trace_id: '😀'.repeat(120) })).toBe('string');
    expect(encodeExemplarLabels({ trace_id: 'x'.repeat(121) })).toEqual({
      problem: expect.stringContaining('129 characters'),
    });
    expect(encodeExemplarLabels({ trace_id: { nested: 1 } })).toEqual({
      problem: 'exemplar label trace_id is object, not a string',
    });
    expect(encodeExemplarLabels(null)).toEqual({ problem: 'exemplar labels null are not an object' });
  });
});

describe('the exemplars table', () => {
  it('is added to a database made before it, whose values stay', async () => {
    const dir = tempDir().dir;
    const w = await startWriter(dir);
    await w.run([COUNTER, inc('k', 4), flush]);
    await killHard(w.child);
    const path = join(dir, 'kci-metrics.sqlite');
    const old = new Database(path);
    old.exec('DROP TABLE exemplars'); // as a database made by a version without exemplars
    old.close();
    const next = await startWriter(dir);
    await next.run([COUNTER, inc('k', 1, 'after'), flush]);
    const got = await scrape(dir);
    expect(got.problems).toEqual([]);
    expect(find(got.om, 'jobs_total', { kind: 'k' })).toMatchObject({
      value: 5,
      exemplar: { labels: { trace_id: 'after' } },
    });
  });
});
