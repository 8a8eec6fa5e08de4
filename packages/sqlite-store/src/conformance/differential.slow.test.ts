import fc from 'fast-check';
import { AggregatorRegistry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../index.js';
import { type Child, killAll, killHard, removeTempDirs, startFixture, tempDir } from '../test-support/children.js';
import { view } from './support/compare.js';
import { type Doc, validateDocuments } from './support/harness.js';
import { type Cluster, clusterArb, type Program, programArb } from './support/programs.js';

/**
 * The differential test of issue 13, section 4: a random prom-client program (support/programs.ts) runs
 * in one writer process against a fresh store; the store's merged output (store.metrics(), read here as
 * the aggregator does) must equal prom-client's own registry.metrics() of a reference registry that got
 * the same operations, in the text format and in OpenMetrics, after the normalisations listed in
 * support/compare.ts. A fixed list of seeds runs every time; fast-check adds new random programs (its
 * seed is printed when one fails). Every store output is validated by promtool and Python's parsers.
 *
 * The same with two or three writers of the same definitions, one of them SIGKILLed after its last
 * flush: the store's merge must equal what prom-client's own cluster aggregation
 * (AggregatorRegistry.aggregate() over each worker's getMetricsAsJSON()) renders, in the text format
 * (prom-client's aggregated registry writes `x_total_total` in OpenMetrics for a counter named
 * `x_total`, so its OpenMetrics is no reference; the store's is validated all the same).
 */

const SEEDS = Array.from({ length: 20 }, (_, i) => 1000 + i * 7919);
const CLUSTER_SEEDS = Array.from({ length: 4 }, (_, i) => 5000 + i * 104729);
const quiet = { warn: () => {}, info: () => {} };

const WRITER = '../conformance/support/writer.mjs';
let child: Child;
/** Writers for the cluster cases; the one SIGKILLed is replaced after each case. */
const pool: Array<Promise<Child>> = [];
const docs: Doc[] = [];

beforeAll(async () => {
  child = await startFixture(WRITER, []);
  for (let i = 0; i < 3; i++) pool.push(startFixture(WRITER, []));
});

afterAll(async () => {
  await killAll();
  removeTempDirs();
});

interface Reference {
  text: string;
  openmetrics: string;
  json: Parameters<typeof AggregatorRegistry.aggregate>[0][number];
  flushed: boolean;
}

interface Outcome {
  store: { text: string; openmetrics: string };
  reference: Reference;
}

async function read(dir: string): Promise<Outcome['store']> {
  const reader = openStore({ dir, logger: quiet });
  try {
    const store = { text: await reader.metrics(), openmetrics: await reader.metrics({ format: 'openmetrics' }) };
    // Shrinking a failure runs hundreds of programs: their outputs need no second validation.
    if (docs.length < 200)
      docs.push({ format: 'prometheus', text: store.text }, { format: 'openmetrics', text: store.openmetrics });
    return store;
  } finally {
    reader.close();
  }
}

async function run(program: Program): Promise<Outcome> {
  const dir = tempDir().dir;
  const reference = await child.call<Reference>('program', { dir, ops: program.ops });
  return { store: await read(dir), reference };
}

/** Run each writer's program on one store, SIGKILL one writer, and read the merge. */
async function runCluster(c: Cluster): Promise<{ store: string; reference: string; flushed: boolean[] }> {
  const dir = tempDir().dir;
  const writers = await Promise.all(pool.slice(0, c.writers.length));
  const refs: Reference[] = [];
  for (const [i, w] of writers.entries())
    refs.push(await w.call<Reference>('program', { dir, ops: c.writers[i]?.ops, json: true }));
  const victim = writers[c.killed] as Child;
  await killHard(victim);
  pool[c.killed] = startFixture(WRITER, []);
  const store = await read(dir);
  const reference = await AggregatorRegistry.aggregate(refs.map((r) => r.json)).metrics();
  return { store: store.text, reference, flushed: refs.map((r) => r.flushed) };
}

function expectSame(program: Program, o: Outcome): void {
  expect(o.reference.flushed).toBe(true);
  expect(view(o.store.text, false, program, 'store')).toEqual(view(o.reference.text, false, program, 'reference'));
  expect(view(o.store.openmetrics, true, program, 'store')).toEqual(
    view(o.reference.openmetrics, true, program, 'reference'),
  );
}

describe('one writer: the store renders what prom-client renders', () => {
  it.each(SEEDS)('seed %i', async (seed) => {
    const [program] = fc.sample(programArb, { seed, numRuns: 1 }) as [Program];
    expectSame(program, await run(program));
  });

  it('fast-check: random programs', async () => {
    await fc.assert(
      fc.asyncProperty(programArb, async (program) => {
        expectSame(program, await run(program));
      }),
      { numRuns: 20, interruptAfterTimeLimit: 10_000 },
    );
  });
});

describe('several writers of the same definitions, one SIGKILLed: the store merges as prom-client does', () => {
  it.each(CLUSTER_SEEDS)('as AggregatorRegistry.aggregate(): seed %i', async (seed) => {
    const [c] = fc.sample(clusterArb, { seed, numRuns: 1 }) as [Cluster];
    const o = await runCluster(c);
    expect(o.flushed.every(Boolean)).toBe(true);
    const program = c.writers[0] as Program;
    expect(view(o.store, false, program, 'store')).toEqual(view(o.reference, false, program, 'reference'));
  });

  it('fast-check: random clusters', async () => {
    await fc.assert(
      fc.asyncProperty(clusterArb, async (c) => {
        const o = await runCluster(c);
        const program = c.writers[0] as Program;
        expect(view(o.store, false, program, 'store')).toEqual(view(o.reference, false, program, 'reference'));
      }),
      { numRuns: 4, interruptAfterTimeLimit: 8_000 },
    );
  });
});

describe('validation', () => {
  it('every store output above is valid for promtool and both Python parsers', () => {
    expect(docs.length).toBeGreaterThan(SEEDS.length * 2);
    expect(validateDocuments(docs)).toEqual([]);
  });
});
