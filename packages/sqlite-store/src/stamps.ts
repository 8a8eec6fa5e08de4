/**
 * Which series rows changed, without reading them (issue 17): a scrape re-reads and re-renders only the
 * blocks of series whose stamp moved since it rendered them, and reuses the rest.
 *
 * The series rows are cut into blocks of BLOCK_SIZE consecutive ids (`id >> BLOCK_BITS`). The `stamps` table
 * (schema.ts) holds one counter per block that ever changed, and only ever goes up: a flush that changed a
 * block's series, gauge values or exemplars adds 1 to the block's stamp, once per flush, in its transaction.
 * Two more counters cover what no block says: ALL_BLOCKS (everything may have changed: a writer that does
 * not stamp, a metric deleted, a cleared store) and GAUGE_BLOCKS (every gauge may have changed: a writer
 * folded). The triggers in schema.ts bump those two, so writers of store versions before the stamps (which
 * never stamp) are correct too, only not cheaper to scrape.
 *
 * The writer stamps through `StampingStatements`: a view of the connection's statements that notes the
 * series id of every row a writing statement touches. A statement that writes series, gauges or exemplars
 * and whose ids it cannot tell (one added later) stamps everything: slower, never stale.
 */
import type Database from 'better-sqlite3';
import type { Statements } from './statements.js';

export const BLOCK_BITS = 6;
/** Series ids per block. */
export const BLOCK_SIZE = 1 << BLOCK_BITS;
/** The stamp of everything. */
export const ALL_BLOCKS = -1;
/** The stamp of every gauge series. */
export const GAUGE_BLOCKS = -2;

/** Where the series ids are in a writing statement's parameters (`run(...args)`, as the writer calls it). */
type IdsOf = (args: unknown[], out: (id: unknown) => void) => void;

/** Every `stride`-th value of an array passed as the only parameter, from `first`. */
const everyNth =
  (stride: number): IdsOf =>
  (args, out) => {
    const list = args[0] as unknown[];
    for (let i = 0; i < list.length; i += stride) out(list[i]);
  };
const argument =
  (k: number): IdsOf =>
  (args, out) =>
    out(args[k]);

/** The writing statements of a flush whose series ids are known (see statements.ts for their parameters). */
const WRITES: Partial<Record<keyof Statements, IdsOf>> = {
  addValue: argument(1),
  addValues: everyNth(2),
  setVector: argument(1),
  setVectors: everyNth(2),
  setGauge: argument(0),
  deleteGauge: argument(0),
  upsertExemplar: everyNth(5),
  upsertExemplars: everyNth(5),
};

/** SQL that changes rows a scrape renders. */
const RENDERED_WRITE = /^\s*(INSERT|UPDATE|DELETE)\b[^;]*\b(series|gauges|exemplars)\b/i;

/**
 * The connection's statements as a flush uses them, noting the blocks it changes; `write()` stamps them
 * (inside the flush's transaction). Made once per connection (the writer keeps per-statement state by it).
 */
export class StampingStatements {
  readonly statements: Statements;
  private readonly dirty = new Set<number>();
  private all = false;

  constructor(private readonly s: Statements) {
    const view: Record<string, Database.Statement> = {};
    const note = (id: unknown) => {
      if (typeof id === 'number') this.dirty.add(id >> BLOCK_BITS);
      else if (typeof id === 'bigint') this.dirty.add(Number(id >> BigInt(BLOCK_BITS)));
      else this.all = true;
    };
    for (const [name, statement] of Object.entries(s) as [keyof Statements, Database.Statement][]) {
      if (name === 'insertSeries') {
        // A new series row: its id comes back.
        view[name] = wrap(statement, 'get', (_args, result) => note((result as { id?: unknown } | undefined)?.id));
        continue;
      }
      const ids = WRITES[name];
      if (ids) view[name] = wrap(statement, 'run', (args) => ids(args, note));
      else if (!statement.reader && RENDERED_WRITE.test(statement.source))
        view[name] = wrap(statement, 'run', () => {
          this.all = true;
        });
      else view[name] = statement;
    }
    this.statements = view as Statements;
  }

  /** Forget what a flush noted (its transaction rolled back, or it is about to start). */
  clear(): void {
    this.dirty.clear();
    this.all = false;
  }

  /** The blocks noted since clear(), each with its stamp now (0: none yet); undefined when everything is to be stamped. */
  blocksBefore(): Map<number, number> | undefined {
    if (this.all) return undefined;
    const out = new Map<number, number>();
    for (const block of this.dirty) out.set(block, (this.s.readStamp.get(block) as number | undefined) ?? 0);
    return out;
  }

  /** Stamp the blocks noted since clear() (call inside the flush's transaction, after its writes). */
  write(): void {
    const stamp = this.s.stampBlock;
    if (this.all) stamp.run(ALL_BLOCKS);
    for (const block of this.dirty) stamp.run(block);
    this.clear();
  }
}

/** The statement with `method` observed after each call; every other member as the statement's own. */
function wrap(
  statement: Database.Statement,
  method: 'run' | 'get',
  after: (args: unknown[], result: unknown) => void,
): Database.Statement {
  const target = statement;
  const observed = (...args: unknown[]) => {
    const result = Reflect.apply(target[method], target, args);
    after(args, result);
    return result;
  };
  // Made once, not at every access: a flush reaches for `run` once per row or batch.
  const bound = new Map<PropertyKey, unknown>();
  return new Proxy(statement, {
    get(_target, prop) {
      if (prop === method) return observed;
      const value = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      let fn = bound.get(prop);
      if (fn === undefined) {
        fn = value.bind(target);
        bound.set(prop, fn);
      }
      return fn;
    },
  });
}

/** One stamping view per connection's statements: the writer keeps its batches by the statements object. */
const stampingViews = new WeakMap<Statements, StampingStatements>();
export function stampingOf(s: Statements): StampingStatements {
  let view = stampingViews.get(s);
  if (!view) {
    view = new StampingStatements(s);
    stampingViews.set(s, view);
  }
  return view;
}
