import type Database from 'better-sqlite3';

/** Rows per batched statement: the writer's `UPDATE ... FROM (VALUES ...)` takes this many (id, value) pairs. */
export const BATCH_ROWS = 64;

interface Pending {
  id: number;
  value: unknown;
  applied: () => void;
  missing: () => void;
}

/**
 * Row updates sent BATCH_ROWS at a time through one `UPDATE ... FROM (VALUES (id, value), ...)` statement;
 * a remainder smaller than a batch goes one statement per row. At S=1000 with every series changed, one
 * statement per row spent more time in better-sqlite3's per-call work than SQLite spent updating rows.
 *
 * Each update reports back: `applied` once its row was updated, `missing` when the row is gone (another
 * process replaced the metric). Values must stay unchanged until the batch runs (see `slot`).
 */
export class RowBatch {
  private readonly args: unknown[] = new Array(BATCH_ROWS * 2);
  private readonly pending: Pending[] = [];

  /**
   * @param many the batched statement, parameters (id, value) x BATCH_ROWS
   * @param one the single-row statement, parameters (value, id)
   * @param exists returns a value when a series row with that id exists
   */
  constructor(
    private readonly many: Database.Statement,
    private readonly one: Database.Statement,
    private readonly exists: Database.Statement,
  ) {}

  /** Position of the next update in the batch (0 to BATCH_ROWS - 1): where to keep its value meanwhile. */
  get slot(): number {
    return this.pending.length;
  }

  add(id: number, value: unknown, applied: () => void, missing: () => void): void {
    const k = this.pending.length;
    this.args[2 * k] = id;
    this.args[2 * k + 1] = value;
    this.pending.push({ id, value, applied, missing });
    if (k + 1 === BATCH_ROWS) this.runBatch();
  }

  /** Drop what a failed flush left pending (its transaction rolled back; nothing of it was applied). */
  clear(): void {
    this.pending.length = 0;
  }

  /** Apply what is left, one row at a time. */
  finish(): void {
    for (const p of this.pending) {
      if (this.one.run(p.value, p.id).changes === 0) p.missing();
      else p.applied();
    }
    this.pending.length = 0;
  }

  private runBatch(): void {
    const changes = this.many.run(this.args).changes;
    for (const p of this.pending) {
      // Fewer rows changed than sent: we hold the write lock, so the rows that exist now are the ones updated.
      if (changes === BATCH_ROWS || this.exists.get(p.id) !== undefined) p.applied();
      else p.missing();
    }
    this.pending.length = 0;
  }
}
