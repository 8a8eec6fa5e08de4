import type Database from 'better-sqlite3';
import { isAlive, type WriterRow } from './identity.js';
import { gaugeModeIfKnown } from './merge.js';
import type { Statements } from './statements.js';

/** How long a dead writer's gauges stay visible (mode `all`, and in sum/min/max/mostrecent) before folding. */
export const DEAD_RETENTION_MS = 60_000;
/** At most this many dead writers are kept unfolded, however fast processes churn. */
export const MAX_RETAINED_DEAD = 16;

export interface WriterView {
  row: WriterRow;
  alive: boolean;
}

/**
 * Whether each writer's process was alive, by writer id and heartbeat, as one scrape found it: a scrape
 * looks at the writers twice (to fold dead ones, then in its snapshot), and asking the OS once per writer
 * halves what 32 idle writers cost a small scrape. A row written since (another heartbeat) is asked again.
 */
export type Liveness = Map<string, boolean>;

/** Classify every writer as live or dead, by process identity (see identity.ts). */
export function viewWriters(s: Statements, now: number, liveness?: Liveness): WriterView[] {
  return (s.allWriters.all() as WriterRow[]).map((row) => {
    if (row.dead_at !== null) return { row, alive: false };
    if (!liveness) return { row, alive: isAlive(row, now) };
    const key = `${row.id}:${row.heartbeat_at}:${row.exited}`;
    let alive = liveness.get(key);
    if (alive === undefined) {
      alive = isAlive(row, now);
      liveness.set(key, alive);
    }
    return { row, alive };
  });
}

/**
 * Fold away writers whose process is gone (issue #3): counters and histograms need nothing (writers add
 * deltas to the merged rows as they go), gauges are merged into the series' retired value as their mode
 * says (merge.ts: sum/min/max/mostrecent keep it, all and live* modes forget it), every other row of the
 * writer is deleted. Storage and scrape cost therefore stay bounded by the live processes plus at most
 * MAX_RETAINED_DEAD recently dead ones.
 *
 * Writes only when something changed; returns the number of writers folded.
 */
export function collectGarbage(
  db: Database.Database,
  s: Statements,
  now: number,
  views?: WriterView[],
  liveness?: Liveness,
): number {
  const writers = views ?? viewWriters(s, now, liveness);
  const newlyDead = writers.filter((w) => !w.alive && w.row.dead_at === null);
  const dead = writers
    .filter((w) => !w.alive)
    .map((w) => ({ row: w.row, deadAt: w.row.dead_at ?? now }))
    .sort((a, b) => a.deadAt - b.deadAt);
  const excess = Math.max(0, dead.length - MAX_RETAINED_DEAD);
  const toFold = dead.filter((d, i) => i < excess || now - d.deadAt >= DEAD_RETENTION_MS);
  if (newlyDead.length === 0 && toFold.length === 0) return 0;
  db.transaction(() => {
    for (const w of newlyDead) s.markDead.run(now, w.row.id);
    for (const d of toFold) fold(s, d.row);
  }).immediate();
  return toFold.length;
}

function fold(s: Statements, w: WriterRow): void {
  // The writers were looked at before this transaction: another process (a writer's periodic fold, a second
  // reader) may have folded this one meanwhile, and counting it again would inflate folded_writers and
  // flush_failures. Its gauges went with it, so there is nothing left to retire either.
  if (s.deleteWriter.run(w.id).changes === 0) return;
  const rows = s.writerGauges.all(w.id) as {
    series_id: number;
    value: number | null;
    updated_at: number;
    mode: string;
  }[];
  for (const r of rows) {
    // NaN (stored as NULL) contributes nothing, as at scrape time; series.value cannot hold it.
    if (r.value === null) continue;
    // Modes without a retire statement (all, live*) forget a dead process's values (merge.ts).
    const retire = gaugeModeIfKnown(r.mode)?.retire;
    if (retire) s[retire].run({ value: r.value, at: r.updated_at, id: r.series_id });
  }
  s.deleteWriterGauges.run(w.id);
  s.deleteWriterDeclarations.run(w.id);
  s.deleteWriterConflicts.run(w.id);
  s.addMeta.run({ key: 'folded_writers', n: 1 });
  if (w.flush_failures) s.addMeta.run({ key: 'flush_failures', n: w.flush_failures });
}
