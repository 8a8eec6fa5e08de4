import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import Database from 'better-sqlite3';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { openStore } from './index.js';
import { killAll, removeTempDirs, startWorker, tempDir } from './test-support/children.js';

afterEach(killAll);
afterAll(removeTempDirs);

const quiet = { warn() {} };
const BOOT_ID = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();

/** Start time of a process in clock ticks since boot (field 22 of /proc/<pid>/stat). */
function startTicks(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] as string;
}

/**
 * Writers registered in the database as other processes would have (rows as the store writes them):
 * how the store tells live from dead needs no hook from a process manager.
 */
function register(
  path: string,
  rows: Array<{ pid: number; host: string; bootId: string; ticks: string; heartbeatAgoMs: number }>,
) {
  const db = new Database(path);
  const insert = db.prepare(
    'INSERT INTO writers (pid, host, boot_id, start_ticks, started_at, heartbeat_at, interval_ms) VALUES (?, ?, ?, ?, ?, ?, 1000)',
  );
  const now = Date.now();
  for (const r of rows) insert.run(r.pid, r.host, r.bootId, r.ticks, now - 60_000, now - r.heartbeatAgoMs);
  db.close();
}

describe('telling live writers from dead ones', () => {
  it('on this host by process start time, so a reused pid is not taken for the old process', async () => {
    const { dir } = tempDir();
    const reader = openStore({ dir, logger: quiet });
    await reader.metrics(); // creates the database
    const other = await startWorker({ dir });
    await other.call('flush'); // registers itself, as live
    register(reader.path, [
      // A writer that had the pid `other` has now, but started at another time, and last flushed more than
      // two intervals ago: it is gone. (Within two intervals of its last flush, a writer whose pid exists is
      // taken for live without reading /proc: pid reuse is not that fast; see identity.ts.)
      {
        pid: other.pid,
        host: hostname(),
        bootId: BOOT_ID,
        ticks: String(Number(startTicks(other.pid)) - 1),
        heartbeatAgoMs: 2_500,
      },
      // One whose pid no process has any more.
      { pid: 4_000_000, host: hostname(), bootId: BOOT_ID, ticks: '1', heartbeatAgoMs: 0 },
    ]);
    expect(reader.health()).toMatchObject({ liveWriters: 1, deadWriters: 2 });
    reader.close();
  });

  it('on another host (a shared directory) by heartbeat: live while it is recent', async () => {
    const { dir } = tempDir();
    const reader = openStore({ dir, logger: quiet });
    await reader.metrics();
    register(reader.path, [
      { pid: 1234, host: 'other-host', bootId: 'b', ticks: '99', heartbeatAgoMs: 1_000 },
      { pid: 1235, host: 'other-host', bootId: 'b', ticks: '99', heartbeatAgoMs: 120_000 },
    ]);
    expect(reader.health()).toMatchObject({ liveWriters: 1, deadWriters: 1 });
    reader.close();
  });
});
