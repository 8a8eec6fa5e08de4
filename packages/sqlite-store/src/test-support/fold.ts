import { join } from 'node:path';
import { foldLog } from '../delta-log.js';
import { openDatabase } from '../schema.js';
import { prepareStatements } from '../statements.js';
import { DB_FILE } from '../store.js';

/**
 * Fold the store's delta log now, as a scrape does after answering (store.ts foldSoon), for tests that read
 * the series rows themselves.
 */
export function foldNow(dir: string): void {
  const db = openDatabase(join(dir, DB_FILE), 1000);
  try {
    foldLog(db, prepareStatements(db), Number.POSITIVE_INFINITY);
  } finally {
    db.close();
  }
}
