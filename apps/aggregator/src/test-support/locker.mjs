// Another process holding the store's database locked (issue #6 "database locked by another process"):
// opens a write transaction, prints "locked", and ends it when sent SIGTERM.
// Usage: node locker.mjs <database file>
import Database from 'better-sqlite3';

const db = new Database(process.argv[2]);
db.pragma('busy_timeout = 5000');
db.exec('BEGIN IMMEDIATE');
process.stdout.write('locked\n');
process.on('SIGTERM', () => {
  db.exec('ROLLBACK');
  db.close();
  process.exit(0);
});
setInterval(() => {}, 60_000);
