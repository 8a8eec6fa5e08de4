import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../index.js';
import { type Child, killAll, removeTempDirs, startFixture, tempDir } from '../test-support/children.js';
import { view } from './support/compare.js';
import { type Doc, validateDocuments } from './support/harness.js';
import { type Program, programArb } from './support/programs.js';

/**
 * The differential test of issue 13, section 4: a random prom-client program (support/programs.ts) runs
 * in one writer process against a fresh store; the store's merged output (store.metrics(), read here as
 * the aggregator does) must equal prom-client's own registry.metrics() of a reference registry that got
 * the same operations, in the text format and in OpenMetrics, after the normalisations listed in
 * support/compare.ts. A fixed list of seeds runs every time; fast-check adds new random programs (its
 * seed is printed when one fails). Every store output is validated by promtool and Python's parsers.
 */

const SEEDS = Array.from({ length: 24 }, (_, i) => 1000 + i * 7919);
const quiet = { warn: () => {}, info: () => {} };

let child: Child;
const docs: Doc[] = [];

beforeAll(async () => {
  child = await startFixture('../conformance/support/writer.mjs', []);
});

afterAll(async () => {
  await killAll();
  removeTempDirs();
});

interface Outcome {
  store: { text: string; openmetrics: string };
  reference: { text: string; openmetrics: string; flushed: boolean };
}

async function run(program: Program): Promise<Outcome> {
  const dir = tempDir().dir;
  const reference = await child.call<Outcome['reference']>('program', { dir, ops: program.ops });
  const reader = openStore({ dir, logger: quiet });
  try {
    const store = { text: await reader.metrics(), openmetrics: await reader.metrics({ format: 'openmetrics' }) };
    // Shrinking a failure runs hundreds of programs: their outputs need no second validation.
    if (docs.length < 160)
      docs.push({ format: 'prometheus', text: store.text }, { format: 'openmetrics', text: store.openmetrics });
    return { store, reference };
  } finally {
    reader.close();
  }
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
      { numRuns: 30, interruptAfterTimeLimit: 10_000 },
    );
  });

  it('every store output above is valid for promtool and both Python parsers', () => {
    expect(docs.length).toBeGreaterThan(SEEDS.length * 2);
    expect(validateDocuments(docs)).toEqual([]);
  });
});
