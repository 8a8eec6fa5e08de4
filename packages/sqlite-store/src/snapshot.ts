import { statSync } from 'node:fs';
import type Database from 'better-sqlite3';
import { seriesOverflows } from './cardinality.js';
import { type Liveness, viewWriters, type WriterView } from './gc.js';
import type { Statements } from './statements.js';
import type { StoreHealth } from './types.js';

/** What the health of a snapshot is made of, read in the same transaction as its rows. */
interface HealthRows {
  writers: WriterView[];
  foldedWriters: number;
  flushFailures: number;
  unstorableValues: number;
  seriesOverflows: StoreHealth['seriesOverflows'];
  conflicts: StoreHealth['conflicts'];
}

/**
 * Read the rows to render and the store's health in one deferred (read) transaction: WAL readers see one
 * committed state from the first read on, so a writer that flushes meanwhile is in both or in neither
 * (issue 15: `metrics()` and `health()` used to be two reads that could disagree). `rows` reads what the
 * scrape renders (blocks.ts), in the same transaction, or returns undefined for a state whose key it
 * rendered already (see stateKey): then only the health is read, a few small tables.
 */
export function readSnapshot<T>(
  db: Database.Database,
  s: Statements,
  now: number,
  rows: (key: string, writers: WriterView[]) => T | undefined,
  liveness?: Liveness,
): { snapshot: T | undefined; health: HealthRows; key: string } {
  return db
    .transaction(() => {
      const writers = viewWriters(s, now, liveness);
      const key = stateKey(s, writers);
      const meta = (key: string) => Number((s.getMeta.get(key) as { value: number } | undefined)?.value ?? 0);
      const health: HealthRows = {
        writers,
        foldedWriters: meta('folded_writers'),
        flushFailures: meta('flush_failures') + writers.reduce((n, w) => n + w.row.flush_failures, 0),
        unstorableValues: meta('unstorable_values'),
        seriesOverflows: seriesOverflows(db),
        conflicts: (s.readConflicts.all() as { metric: string; detail: string }[]).map((c) => ({
          metric: c.metric,
          detail: c.detail,
        })),
      };
      return { snapshot: rows(key, writers), health, key };
    })
    .deferred();
}

/**
 * What the rendered families depend on, in a few bytes: the same key means the same rows and the same
 * live writers, so the same exposition (issue 17: a scrape of an unchanged store renders nothing).
 * `data_version` changes with every commit of another connection, `total_changes()` with every change of
 * this one (the folding of dead writers); which writers are alive decides the live gauge modes.
 */
function stateKey(s: Statements, writers: WriterView[]): string {
  let key = `${s.dataVersion.get() as number}:${s.totalChanges.get() as number}:`;
  for (const w of writers) if (w.alive) key += `${w.row.id},`;
  return key;
}

/** The public health of a snapshot. The file size is the one value read outside it (it is no row). */
export function healthOf(path: string, rows: HealthRows, now: number): StoreHealth {
  const live = rows.writers.filter((w) => w.alive);
  return {
    path,
    sizeBytes: fileSize(path) + fileSize(`${path}-wal`),
    liveWriters: live.length,
    stalledWriters: live.filter((w) => now - w.row.heartbeat_at > 3 * w.row.interval_ms).length,
    deadWriters: rows.writers.length - live.length,
    foldedWriters: rows.foldedWriters,
    flushFailures: rows.flushFailures,
    unstorableValues: rows.unstorableValues,
    seriesOverflows: rows.seriesOverflows,
    conflicts: rows.conflicts,
  };
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}
