// Another process holding the metrics store's write lock, as a stuck program or an operator's sqlite3 shell in
// a transaction would: BEGIN IMMEDIATE, hold it, ROLLBACK. Prints "locked" and "released" on stdout.
// better-sqlite3 is resolved from @kci-metrics/sqlite-store: the backend itself does not depend on it.
//
// Usage: node locker.mjs <database file> <milliseconds to hold the lock>
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const Database = createRequire(require.resolve('@kci-metrics/sqlite-store'))('better-sqlite3');

const [path, holdMs] = process.argv.slice(2);
const db = new Database(path);
db.pragma('busy_timeout = 5000');
db.exec('BEGIN IMMEDIATE');
process.stdout.write('locked\n');
setTimeout(() => {
  db.exec('ROLLBACK');
  db.close();
  process.stdout.write('released\n');
}, Number(holdMs));
