import type Database from 'better-sqlite3';

/** Rows per batched statement: the writer's `UPDATE ... FROM (VALUES ...)` takes this many (id, value) pairs. */
export const BATCH_ROWS = 64;
/** Slots of a batch's table of pending ids (a power of two, well above BATCH_ROWS: few ids share a slot). */
const ID_SLOTS = 1024;

/**
 * Row updates sent BATCH_ROWS at a time through one `UPDATE ... FROM (VALUES (id, value), ...)` statement;
 * a remainder smaller than a batch goes one statement per row. At S=1000 with every series changed, one
 * statement per row spent more time in better-sqlite3's per-call work than SQLite spent updating rows.
 *
 * Each update reports back: `applied` once its row was updated, `missing` when the row is gone (another
 * process replaced the metric). Values must stay unchanged until the batch runs (see `slot`).
 *
 * One id may come twice in a flush (the series a metric's overflowing label sets are folded into, see
 * cardinality.ts), and a batched `UPDATE ... FROM` applies only one of two rows for the same id: an
 * additive batch merges the second value into the first; otherwise the pending rows are applied first
 * (`settle(id)` before reading the row's stored value, so what is read includes them).
 */
export class RowBatch {
  /** Ids and values of the pending updates, bound as they are: (id, value) x BATCH_ROWS. */
  private readonly args: unknown[] = new Array(BATCH_ROWS * 2);
  /** How many updates are pending; update k's callbacks are at k of the arrays below (no object per update). */
  private count = 0;
  private readonly applies: Array<() => void> = new Array(BATCH_ROWS);
  private readonly misses: Array<() => void> = new Array(BATCH_ROWS);
  /** Callbacks of the updates merged into update k: applied, missing, applied, ... (a flood merges thousands). */
  private readonly merged: Array<Array<() => void> | undefined> = new Array(BATCH_ROWS).fill(undefined);
  /**
   * Which ids are pending, as a direct-mapped table (slot `id & ID_SLOTS - 1` holds one of the pending ids that
   * map there, 0 when none does; row ids start at 1): one flush adds every changed series here, and a Set
   * emptied every BATCH_ROWS rows cost more than the test. A slot held by another id is settled by a scan.
   */
  private readonly ids = new Float64Array(ID_SLOTS);
  /** Where `applied` callbacks go once their row is updated (see `clear`); called at once when unset. */
  private sink: Array<() => void> | undefined;

  /**
   * @param many the batched statement, parameters (id, value) x BATCH_ROWS
   * @param one the single-row statement, parameters (value, id)
   * @param exists returns a value when a series row with that id exists
   * @param additive the statements add the value to the row (numbers): two values for one id are summed
   */
  constructor(
    private readonly many: Database.Statement,
    private readonly one: Database.Statement,
    private readonly exists: Database.Statement,
    private readonly additive = false,
  ) {}

  /** Position of the next update in the batch (0 to BATCH_ROWS - 1): where to keep its value meanwhile. */
  get slot(): number {
    return this.count;
  }

  add(id: number, value: unknown, applied: () => void, missing: () => void): void {
    if (this.has(id)) {
      if (this.additive) {
        this.merge(id, value as number, applied, missing);
        return;
      }
      // Not settled before its value was computed: apply both now (its value's slot is not reused).
      this.finish();
      if (this.one.run(value, id).changes === 0) missing();
      else this.applied(applied);
      return;
    }
    const slot = id & (ID_SLOTS - 1);
    if (this.ids[slot] === 0) this.ids[slot] = id;
    const k = this.count++;
    this.args[2 * k] = id;
    this.args[2 * k + 1] = value;
    this.applies[k] = applied;
    this.misses[k] = missing;
    if (k + 1 === BATCH_ROWS) this.runBatch();
  }

  /** Apply what is pending for `id` (and the rest) before its stored value is read. */
  settle(id: number): void {
    if (this.has(id)) this.finish();
  }

  /**
   * Drop what a failed flush left pending (its transaction rolled back; nothing of it was applied), and say
   * where `applied` callbacks go from now on: into `sink` (the flush's commit steps, run once its
   * transaction committed, so that a callback need not wrap another), or, without one, called at once.
   */
  clear(sink?: Array<() => void>): void {
    this.reset();
    this.sink = sink;
  }

  private idAt(k: number): number {
    return this.args[2 * k] as number;
  }

  private indexOf(id: number): number {
    for (let k = 0; k < this.count; k++) if (this.idAt(k) === id) return k;
    return -1;
  }

  private has(id: number): boolean {
    const held = this.ids[id & (ID_SLOTS - 1)];
    if (held === id) return true;
    if (held === 0) return false;
    return this.indexOf(id) >= 0;
  }

  private reset(): void {
    for (let k = 0; k < this.count; k++) {
      this.ids[this.idAt(k) & (ID_SLOTS - 1)] = 0;
      this.merged[k] = undefined;
    }
    this.count = 0;
  }

  private applied(f: () => void): void {
    if (this.sink) this.sink.push(f);
    else f();
  }

  private merge(id: number, value: number, applied: () => void, missing: () => void): void {
    const k = this.indexOf(id);
    this.args[2 * k + 1] = (this.args[2 * k + 1] as number) + value;
    const merged = this.merged[k];
    if (merged) merged.push(applied, missing);
    else this.merged[k] = [applied, missing];
  }

  private report(k: number, applied: boolean): void {
    if (applied) this.applied(this.applies[k] as () => void);
    else (this.misses[k] as () => void)();
    const merged = this.merged[k];
    if (!merged) return;
    if (applied) for (let i = 0; i < merged.length; i += 2) this.applied(merged[i] as () => void);
    else for (let i = 1; i < merged.length; i += 2) (merged[i] as () => void)();
  }

  /** Apply what is left, one row at a time. */
  finish(): void {
    for (let k = 0; k < this.count; k++) {
      this.report(k, this.one.run(this.args[2 * k + 1], this.idAt(k)).changes !== 0);
    }
    this.reset();
  }

  private runBatch(): void {
    const changes = this.many.run(this.args).changes;
    for (let k = 0; k < this.count; k++) {
      // Fewer rows changed than sent: we hold the write lock, so the rows that exist now are the ones updated.
      this.report(k, changes === BATCH_ROWS || this.exists.get(this.idAt(k)) !== undefined);
    }
    this.reset();
  }
}
