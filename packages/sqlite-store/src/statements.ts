import type Database from 'better-sqlite3';
import { BATCH_ROWS } from './batch.js';
import { RETIRE_SQL, type RetireStatement } from './merge.js';

const BATCH_VALUES = Array.from({ length: BATCH_ROWS }, () => '(?, ?)').join(', ');

/** Fold a dead process's gauge value into the series' retired value, as merge.ts says for the mode. */
const retire = (statement: RetireStatement) =>
  `UPDATE series SET value = ${RETIRE_SQL[statement]}, retired_at = max(coalesce(retired_at, 0), @at) WHERE id = @id`;

/** Exemplar rows (series_id, slot, labels, value, ts) x `rows`; rows are applied in order. */
function upsertExemplars(rows: number): string {
  const values = Array.from({ length: rows }, () => '(?, ?, ?, ?, ?)').join(', ');
  return `INSERT INTO exemplars (series_id, slot, labels, value, ts)
      SELECT column1, column2, column3, column4, column5 FROM (VALUES ${values})
      WHERE EXISTS (SELECT 1 FROM series WHERE id = column1)
      ON CONFLICT (series_id, slot) DO UPDATE SET labels = excluded.labels, value = excluded.value, ts = excluded.ts
      WHERE excluded.ts >= exemplars.ts`;
}

/** Every statement the store runs (SQL text; `raw:` ones return rows as arrays, for the scrape; `pluck:` ones a single value). */
const SQL = {
  // stamps = 1: this writer stamps the blocks it changes (stamps.ts).
  insertWriter: `INSERT INTO writers (pid, host, boot_id, start_ticks, started_at, heartbeat_at, interval_ms, flush_failures, stamps)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1) RETURNING id`,
  findWriter: `SELECT id FROM writers WHERE pid = ? AND host = ? AND boot_id = ? AND start_ticks = ? AND dead_at IS NULL
      ORDER BY id LIMIT 1`,
  touchWriter: `UPDATE writers SET heartbeat_at = ?, flush_failures = flush_failures + ?, exited = ?,
      dead_at = CASE WHEN ? THEN ? ELSE dead_at END WHERE id = ? AND dead_at IS NULL`,
  allWriters: 'SELECT * FROM writers ORDER BY id',
  markDead: 'UPDATE writers SET dead_at = ? WHERE id = ? AND dead_at IS NULL',
  deleteWriter: 'DELETE FROM writers WHERE id = ?',

  selectMetric: 'SELECT id, signature, help FROM metrics WHERE name = ?',
  insertMetric: `INSERT INTO metrics (name, type, help, label_names, buckets, mode, signature)
      VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
  updateHelp: 'UPDATE metrics SET help = ? WHERE id = ?',
  holders: `SELECT w.* FROM writer_metrics wm JOIN writers w ON w.id = wm.writer_id
      WHERE wm.metric_id = ? AND w.id <> ?`,
  declare: 'INSERT OR IGNORE INTO writer_metrics (writer_id, metric_id) VALUES (?, ?)',
  dropMetricExemplars: 'DELETE FROM exemplars WHERE series_id IN (SELECT id FROM series WHERE metric_id = ?)',
  dropMetricGauges: 'DELETE FROM gauges WHERE series_id IN (SELECT id FROM series WHERE metric_id = ?)',
  dropMetricSeries: 'DELETE FROM series WHERE metric_id = ?',
  dropMetricDeclarations: 'DELETE FROM writer_metrics WHERE metric_id = ?',
  dropMetric: 'DELETE FROM metrics WHERE id = ?',
  dropMetricConflicts: 'DELETE FROM conflicts WHERE metric = ?',
  recordConflict: 'INSERT OR REPLACE INTO conflicts (metric, writer_id, detail, at) VALUES (?, ?, ?, ?)',

  // A series by its label set: the index holds (metric_id, key), the text tells colliding keys apart (labels.ts
  // labelKey). Found, else inserted, inside the flush's write transaction (series.ts).
  findSeries: 'pluck:SELECT id FROM series WHERE metric_id = ? AND key = ? AND labels = ?',
  insertSeries: 'INSERT INTO series (metric_id, key, labels) VALUES (?, ?, ?) RETURNING id',
  addValue: 'UPDATE series SET value = value + ? WHERE id = ?',
  addValues: `UPDATE series SET value = series.value + v.column2 FROM (VALUES ${BATCH_VALUES}) AS v
      WHERE series.id = v.column1`,
  seriesExists: 'pluck:SELECT 1 FROM series WHERE id = ?',
  // As text: a blob read costs a Buffer of its own (vector-codec.ts, hexVectorInto).
  readVector: 'pluck:SELECT hex(vector) FROM series WHERE id = ?',
  setVector: 'UPDATE series SET vector = ? WHERE id = ?',
  setVectors: `UPDATE series SET vector = v.column2 FROM (VALUES ${BATCH_VALUES}) AS v WHERE series.id = v.column1`,
  // The delta log (delta-log.ts): a flush appends rows of up to LOG_ROW_ENTRIES entries; a fold reads the
  // oldest in order (until they add to FOLD_SERIES series) and deletes them.
  insertDeltas: 'INSERT INTO deltas (writer_id, at, entries, body) VALUES (?, ?, ?, ?)',
  readDeltas: 'raw:SELECT id, body FROM deltas WHERE id <= ? ORDER BY id',
  deleteDeltas: 'DELETE FROM deltas WHERE id <= ?',
  logEntries: 'pluck:SELECT total(entries) FROM deltas',
  lastDelta: 'pluck:SELECT max(id) FROM deltas',
  oldestDelta: 'pluck:SELECT min(at) FROM deltas',
  metricSignature: 'pluck:SELECT signature FROM metrics WHERE id = ?',
  setGauge: `INSERT INTO gauges (series_id, writer_id, value, updated_at) VALUES (?, ?, ?, ?)
      ON CONFLICT (series_id, writer_id) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
  // The most recent exemplar of any process wins; none is written for a series row that is gone (its id
  // could be reused by another series).
  upsertExemplar: upsertExemplars(1),
  upsertExemplars: upsertExemplars(BATCH_ROWS),
  deleteGauge: 'DELETE FROM gauges WHERE series_id = ? AND writer_id = ?',
  undeclare: 'DELETE FROM writer_metrics WHERE writer_id = ? AND metric_id = ?',

  writerGauges: `SELECT g.series_id, g.value, g.updated_at, m.mode FROM gauges g
      JOIN series s ON s.id = g.series_id JOIN metrics m ON m.id = s.metric_id WHERE g.writer_id = ?`,
  // Named parameters: better-sqlite3 cannot bind numbered ones (?1), which a value used twice would need.
  retireSum: retire('retireSum'),
  retireMin: retire('retireMin'),
  retireMax: retire('retireMax'),
  retireRecent: retire('retireRecent'),
  deleteWriterGauges: 'DELETE FROM gauges WHERE writer_id = ?',
  deleteWriterDeclarations: 'DELETE FROM writer_metrics WHERE writer_id = ?',
  deleteWriterConflicts: 'DELETE FROM conflicts WHERE writer_id = ?',
  addMeta: `INSERT INTO meta (key, value) VALUES (@key, @n)
      ON CONFLICT (key) DO UPDATE SET value = coalesce(value, 0) + @n`,
  getMeta: 'SELECT value FROM meta WHERE key = ?',

  readMetrics: 'raw:SELECT id, name, type, help, label_names, buckets, mode FROM metrics ORDER BY id',
  // Vectors as hex text, as readVector. The blocks a scrape renders again (stamps.ts): their rows by id range.
  readSeriesRange:
    'raw:SELECT metric_id, id, labels, value, hex(vector), retired_at FROM series WHERE id >= ? AND id < ?',
  readGaugesRange:
    'raw:SELECT series_id, writer_id, value, updated_at FROM gauges WHERE series_id >= ? AND series_id < ?',
  readExemplarsRange:
    'raw:SELECT series_id, slot, labels, value, ts FROM exemplars WHERE series_id >= ? AND series_id < ?',
  nextSeriesId: 'pluck:SELECT min(id) FROM series WHERE id >= ?',
  // A per-process gauge's series: the process label is decided over all of them (merge.ts processLabel).
  readMetricSeries: 'raw:SELECT id, labels FROM series WHERE metric_id = ? ORDER BY id',
  readStamps: 'raw:SELECT block, stamp FROM stamps',
  readStamp: 'pluck:SELECT stamp FROM stamps WHERE block = ?',
  stampBlock: `INSERT INTO stamps (block, stamp) VALUES (?, 1) ON CONFLICT (block) DO UPDATE SET stamp = stamp + 1`,
  readConflicts: 'SELECT metric, writer_id, detail FROM conflicts ORDER BY metric',
  dataVersion: 'pluck:PRAGMA data_version',
  totalChanges: 'pluck:SELECT total_changes()',
} as const;

export type Statements = { readonly [K in keyof typeof SQL]: Database.Statement };

/** Prepare every statement once per connection. */
export function prepareStatements(db: Database.Database): Statements {
  const out: Record<string, Database.Statement> = {};
  for (const [name, sql] of Object.entries(SQL)) {
    if (sql.startsWith('raw:')) out[name] = db.prepare(sql.slice(4)).raw(true);
    else if (sql.startsWith('pluck:')) out[name] = db.prepare(sql.slice(6)).pluck(true);
    else out[name] = db.prepare(sql);
  }
  return out as Statements;
}
