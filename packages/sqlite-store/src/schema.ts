import Database from 'better-sqlite3';
import { labelKey } from './labels.js';
import { ALL_BLOCKS, GAUGE_BLOCKS } from './stamps.js';
import { fromFloat64s } from './vector-codec.js';

/**
 * The store's tables (one database file shared by every process of a host):
 *
 * - `series` holds the merged value of every counter and histogram series: writers add their deltas, so
 *   a scrape reads one row per series whatever the number of processes (issue #3's W=32 vs W=2 target)
 *   and a dead or restarted process needs no folding for them. Gauge series keep here the value folded
 *   from processes that are gone (`retired_at` set when there is one).
 * - `gauges` holds each live (or recently dead) writer's own gauge values, merged by mode at scrape time.
 * - `writers` holds one row per running process (identity, heartbeat), removed when it is folded.
 * - `metrics` holds each metric's definition; `writer_metrics` who declared it; `conflicts` definitions
 *   that disagree between processes.
 * - `exemplars` holds the most recent exemplar of any process per counter series and histogram bucket
 *   (exemplars.ts). Added after version 1 without changing it: a database made before gets the table when
 *   it is next opened, and an older store version that opens a database with it ignores it.
 * - `stamps` says which blocks of series rows changed (stamps.ts), so that a scrape reads and renders only
 *   those (issue 17). Added after version 1 like `exemplars`, with the `writers.stamps` column and the
 *   triggers below; an older store version ignores the table, and the triggers make its writes count.
 *
 * Version 2 (issue 17: the file at S=100000 was 3.4x the values it holds) changed `series`: the unique
 * index on (metric_id, labels), which held every label set a second time, became an index on (metric_id,
 * key), `key` a 32-bit hash of the label set (labels.ts labelKey); and `data` (n float64s) became `vector`,
 * an encoding of whole numbers in a few bytes each (vector-codec.ts). Opening a version-1 database upgrades
 * it in place, once, in one transaction (`upgradeToVersion2`).
 *
 * Version 3 (issue 17: a flush paid SQLite's row update for every series it changed) added `deltas`, the log
 * flushes append their deltas to and readers fold into `series` (delta-log.ts). A version-2 database gets
 * the table when this version first opens it (`upgradeToVersion3`); a store of version 2 then refuses to
 * open it, since it would neither fold the log nor fold it before deleting series rows.
 */
export const SCHEMA_VERSION = 3;

/** The `series` table of version 2; `name` is where it is made (the upgrade builds it apart first). */
const seriesDdl = (name: string) => `
CREATE TABLE IF NOT EXISTS ${name} (
  id INTEGER PRIMARY KEY,
  metric_id INTEGER NOT NULL,
  key INTEGER NOT NULL, -- labelKey(labels)
  labels TEXT NOT NULL,
  value REAL NOT NULL DEFAULT 0,
  vector BLOB, -- vector-codec.ts
  retired_at REAL
);`;
const SERIES_INDEX = 'CREATE INDEX IF NOT EXISTS series_by_key ON series (metric_id, key);';

/** The delta log of version 3 (delta-log.ts): one row per flush that added to counters or vectors. */
const DELTAS_DDL = `
CREATE TABLE IF NOT EXISTS deltas (
  id INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused: a scrape folds the rows up to the last one it showed
  writer_id INTEGER NOT NULL,
  at REAL NOT NULL, -- when it was written (ms since the epoch)
  entries INTEGER NOT NULL,
  body BLOB NOT NULL
);`;

const DDL = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS writers (
  id INTEGER PRIMARY KEY,
  pid INTEGER NOT NULL,
  host TEXT NOT NULL,
  boot_id TEXT NOT NULL,
  start_ticks TEXT NOT NULL,
  started_at REAL NOT NULL,
  heartbeat_at REAL NOT NULL,
  interval_ms INTEGER NOT NULL,
  exited INTEGER NOT NULL DEFAULT 0,
  dead_at REAL,
  flush_failures INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS metrics (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  type TEXT NOT NULL,
  help TEXT NOT NULL,
  label_names TEXT NOT NULL,
  buckets TEXT,
  mode TEXT,
  signature TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS writer_metrics (
  writer_id INTEGER NOT NULL,
  metric_id INTEGER NOT NULL,
  PRIMARY KEY (writer_id, metric_id)
) WITHOUT ROWID;
${seriesDdl('series')}
${SERIES_INDEX}
CREATE TABLE IF NOT EXISTS gauges (
  series_id INTEGER NOT NULL,
  writer_id INTEGER NOT NULL,
  value REAL, -- NULL: NaN (SQLite stores no NaN)
  updated_at REAL NOT NULL,
  PRIMARY KEY (series_id, writer_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS gauges_by_writer ON gauges (writer_id);
${DELTAS_DDL}
CREATE TABLE IF NOT EXISTS conflicts (
  metric TEXT NOT NULL,
  writer_id INTEGER NOT NULL,
  detail TEXT NOT NULL,
  at REAL NOT NULL,
  PRIMARY KEY (metric, writer_id)
) WITHOUT ROWID;
`;

const EXEMPLARS_DDL = `
CREATE TABLE IF NOT EXISTS exemplars (
  series_id INTEGER NOT NULL,
  slot INTEGER NOT NULL, -- 0 for a counter; a histogram's bucket index, the bucket count for +Inf
  labels TEXT NOT NULL, -- as rendered: trace_id="abc"
  value REAL NOT NULL,
  ts REAL NOT NULL, -- seconds since the epoch
  PRIMARY KEY (series_id, slot)
) WITHOUT ROWID;
`;

/**
 * What the stamps of changed blocks need (stamps.ts): the table, a column by which a writer says it stamps
 * what it changes, and triggers for the writes that stamp nothing themselves. Every flush of every store
 * version registers or touches its `writers` row, so a writer that does not stamp (an older version) bumps
 * the stamp of everything with each flush; a fold (deleting a writer) bumps the gauges' stamp, a deleted
 * metric (a definition replaced, a store cleared) the stamp of everything. These fire once per flush or
 * fold, never per series row.
 */
const STAMPS_DDL = `
CREATE TABLE IF NOT EXISTS stamps (block INTEGER PRIMARY KEY, stamp INTEGER NOT NULL) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS stamps_writer_added AFTER INSERT ON writers WHEN NEW.stamps = 0 BEGIN
  ${bump(ALL_BLOCKS)}
END;
CREATE TRIGGER IF NOT EXISTS stamps_writer_touched AFTER UPDATE ON writers WHEN NEW.stamps = 0 BEGIN
  ${bump(ALL_BLOCKS)}
END;
CREATE TRIGGER IF NOT EXISTS stamps_writer_folded AFTER DELETE ON writers BEGIN
  ${bump(GAUGE_BLOCKS)}
END;
CREATE TRIGGER IF NOT EXISTS stamps_metric_dropped AFTER DELETE ON metrics BEGIN
  ${bump(ALL_BLOCKS)}
END;
`;

function bump(block: number): string {
  return `INSERT INTO stamps (block, stamp) VALUES (${block}, 1) ON CONFLICT (block) DO UPDATE SET stamp = stamp + 1;`;
}

/** Add what came after version 1 (exemplars, stamps) to a database that lacks it; checked again under the lock. */
function migrate(db: Database.Database): void {
  const has = (type: string, name: string) =>
    db.prepare('SELECT 1 FROM sqlite_master WHERE type = ? AND name = ?').get(type, name) !== undefined;
  const stampsColumn = () => (db.pragma('table_info(writers)') as { name: string }[]).some((c) => c.name === 'stamps');
  const complete = () => has('table', 'exemplars') && has('trigger', 'stamps_metric_dropped') && stampsColumn();
  if (complete()) return;
  db.transaction(() => {
    if (!has('table', 'exemplars')) db.exec(EXEMPLARS_DDL);
    // A writer row of before this column is a writer that does not stamp (0), whatever its version.
    if (!stampsColumn()) db.exec('ALTER TABLE writers ADD COLUMN stamps INTEGER NOT NULL DEFAULT 0');
    db.exec(STAMPS_DDL);
  }).immediate();
}

/**
 * Rebuild a version-1 `series` table as version 2's: ids, labels, values and retired values kept, keys
 * computed, vectors re-encoded. One transaction, checked again under the lock (another process may have
 * done it first). Processes of an older store version still running fail their next flush or scrape
 * (`data` and the unique index are gone) and log it, instead of writing float64 vectors into `vector`.
 */
function upgradeToVersion2(db: Database.Database): void {
  db.function('kci_label_key', { deterministic: true }, (labels) => labelKey(String(labels)));
  db.function('kci_vector_v2', { deterministic: true }, (data) =>
    data instanceof Uint8Array ? fromFloat64s(data) : null,
  );
  db.transaction(() => {
    if ((db.pragma('user_version', { simple: true }) as number) !== 1) return;
    db.exec(seriesDdl('series_v2'));
    db.exec(`INSERT INTO series_v2 (id, metric_id, key, labels, value, vector, retired_at)
      SELECT id, metric_id, kci_label_key(labels), labels, value, kci_vector_v2(data), retired_at FROM series`);
    db.exec('DROP TABLE series');
    db.exec('ALTER TABLE series_v2 RENAME TO series');
    db.exec(SERIES_INDEX);
    db.exec(bump(ALL_BLOCKS));
    db.pragma('user_version = 2');
  }).immediate();
}

/** Add the delta log to a version-2 database; checked again under the lock, like the upgrade to version 2. */
function upgradeToVersion3(db: Database.Database): void {
  db.transaction(() => {
    if ((db.pragma('user_version', { simple: true }) as number) !== 2) return;
    db.exec(DELTAS_DDL);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}

/** Open (creating when needed) the database in WAL mode with an explicit busy timeout. */
export function openDatabase(path: string, busyTimeoutMs: number): Database.Database {
  const db = new Database(path, { timeout: busyTimeoutMs });
  try {
    // WAL: readers never block writers and a scrape never blocks a flush. NORMAL sync is durable
    // across process crashes (SIGKILL), which is the failure this store is about.
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    // After a checkpoint the WAL file shrinks back to 1 MB instead of keeping its high-water mark, so the
    // store's size on disk follows its data.
    db.pragma('journal_size_limit = 1048576');
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version === 0) {
      db.transaction(() => {
        db.exec(DDL);
        db.pragma(`user_version = ${SCHEMA_VERSION}`);
      }).immediate();
    } else if (version !== 1 && version !== 2 && version !== SCHEMA_VERSION) {
      throw new Error(
        `database schema version ${version} is not ${SCHEMA_VERSION}: made by a newer store version; use a fresh store directory`,
      );
    }
    migrate(db);
    if (version === 1) upgradeToVersion2(db);
    if (version === 1 || version === 2) upgradeToVersion3(db);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

/**
 * Clear every stored value (a full restart that starts fresh). Definitions and writers go too; the stamps
 * stay and only go up (a scrape compares them with the ones it rendered from), the stamp of everything
 * with them.
 */
export function clearDatabase(db: Database.Database): void {
  db.transaction(() => {
    db.exec(bump(ALL_BLOCKS));
    for (const table of [
      'deltas',
      'exemplars',
      'gauges',
      'series',
      'writer_metrics',
      'metrics',
      'writers',
      'conflicts',
      'meta',
    ]) {
      db.exec(`DELETE FROM ${table}`);
    }
  }).immediate();
}
