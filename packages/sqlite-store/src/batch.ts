import type Database from 'better-sqlite3';

/** Rows per batched statement: the writer's `UPDATE ... FROM (VALUES ...)` takes this many (id, value) pairs. */
export const BATCH_ROWS = 64;
/** Slots of a batch's table of pending ids (a power of two, well above BATCH_ROWS: few ids share a slot). */
const ID_SLOTS = 1024;

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
    return this.pending.length;
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
    const k = this.pending.length;
    this.args[2 * k] = id;
    this.args[2 * k + 1] = value;
    this.pending.push({ id, value, applied, missing });
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

  private has(id: number): boolean {
    const held = this.ids[id & (ID_SLOTS - 1)];
    if (held === id) return true;
    if (held === 0) return false;
    for (const p of this.pending) if (p.id === id) return true;
    return false;
  }

  private reset(): void {
    for (const p of this.pending) this.ids[p.id & (ID_SLOTS - 1)] = 0;
    this.pending.length = 0;
  }

  private applied(f: () => void): void {
    if (this.sink) this.sink.push(f);
    else f();
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

  private report(p: Pending, applied: boolean): void {
    if (applied) this.applied(p.applied);
    else p.missing();
    const merged = p.merged;
    if (!merged) return;
    if (applied) for (let i = 0; i < merged.length; i += 2) this.applied(merged[i] as () => void);
    else for (let i = 1; i < merged.length; i += 2) (merged[i] as () => void)();
  }

  /** Apply what is left, one row at a time. */
  finish(): void {
    for (const p of this.pending) {
      this.report(p, this.one.run(p.value, p.id).changes !== 0);
    }
    this.reset();
  }

  private runBatch(): void {
    const changes = this.many.run(this.args).changes;
    for (const p of this.pending) {
      // Fewer rows changed than sent: we hold the write lock, so the rows that exist now are the ones updated.
      this.report(p, changes === BATCH_ROWS || this.exists.get(p.id) !== undefined);
    }
    this.reset();
  }
}
