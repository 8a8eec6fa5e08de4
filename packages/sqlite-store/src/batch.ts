import type Database from 'better-sqlite3';

/** Rows per batched statement: the writer's `UPDATE ... FROM (VALUES ...)` takes this many (id, value) pairs. */
export const BATCH_ROWS = 64;

interface Pending {
  id: number;
  value: unknown;
  applied: () => void;
  missing: () => void;
  /** Callbacks of the updates merged into this one: applied, missing, applied, ... (a flat list: a flood merges thousands). */
  merged?: Array<() => void>;
}

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
  private readonly args: unknown[] = new Array(BATCH_ROWS * 2);
  private readonly pending: Pending[] = [];
  private readonly ids = new Set<number>();

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
    return this.pending.length;
  }

  add(id: number, value: unknown, applied: () => void, missing: () => void): void {
    if (this.ids.has(id)) {
      if (this.additive) {
        this.merge(id, value as number, applied, missing);
        return;
      }
      // Not settled before its value was computed: apply both now (its value's slot is not reused).
      this.finish();
      if (this.one.run(value, id).changes === 0) missing();
      else applied();
      return;
    }
    this.ids.add(id);
    const k = this.pending.length;
    this.args[2 * k] = id;
    this.args[2 * k + 1] = value;
    this.pending.push({ id, value, applied, missing });
    if (k + 1 === BATCH_ROWS) this.runBatch();
  }

  /** Apply what is pending for `id` (and the rest) before its stored value is read. */
  settle(id: number): void {
    if (this.ids.has(id)) this.finish();
  }

  /** Drop what a failed flush left pending (its transaction rolled back; nothing of it was applied). */
  clear(): void {
    this.pending.length = 0;
    this.ids.clear();
  }

  private merge(id: number, value: number, applied: () => void, missing: () => void): void {
    const k = this.pending.findIndex((p) => p.id === id);
    const p = this.pending[k] as Pending;
    const sum = (p.value as number) + value;
    p.value = sum;
    this.args[2 * k + 1] = sum;
    if (p.merged) p.merged.push(applied, missing);
    else p.merged = [applied, missing];
  }

  private static report(p: Pending, applied: boolean): void {
    if (applied) p.applied();
    else p.missing();
    const merged = p.merged;
    if (merged) for (let i = applied ? 0 : 1; i < merged.length; i += 2) (merged[i] as () => void)();
  }

  /** Apply what is left, one row at a time. */
  finish(): void {
    for (const p of this.pending) {
      RowBatch.report(p, this.one.run(p.value, p.id).changes !== 0);
    }
    this.pending.length = 0;
    this.ids.clear();
  }

  private runBatch(): void {
    const changes = this.many.run(this.args).changes;
    for (const p of this.pending) {
      // Fewer rows changed than sent: we hold the write lock, so the rows that exist now are the ones updated.
      RowBatch.report(p, changes === BATCH_ROWS || this.exists.get(p.id) !== undefined);
    }
    this.pending.length = 0;
    this.ids.clear();
  }
}
