// Another process holding the store's write lock, as one stuck in a long transaction would:
// BEGIN IMMEDIATE at start, COMMIT when told { op: 'release' }.
//
// argv[2]: the database file.
import Database from 'better-sqlite3';

const db = new Database(process.argv[2]);
db.exec('BEGIN IMMEDIATE');
process.on('message', (msg) => {
  if (msg.op !== 'release') return;
  db.exec('COMMIT');
  process.send({ id: msg.id, result: true });
});
process.send({ ready: true, pid: process.pid, results: [] });
