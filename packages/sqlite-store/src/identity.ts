import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';

/**
 * Who a writer is, precisely enough to tell "this pid is still the same process" after pid reuse:
 * on Linux the kernel boot id plus the process start time (in clock ticks since boot) identify a process
 * uniquely; elsewhere we fall back to kill(pid, 0) and the heartbeat.
 */
export interface ProcessIdentity {
  pid: number;
  host: string;
  bootId: string;
  startTicks: string;
}

export interface WriterRow {
  id: number;
  pid: number;
  host: string;
  boot_id: string;
  start_ticks: string;
  heartbeat_at: number;
  interval_ms: number;
  exited: number;
  dead_at: number | null;
  flush_failures: number;
}

const BOOT_ID = readOr('/proc/sys/kernel/random/boot_id', '').trim();
const HOST = hostname();
const OWN_START_TICKS = startTicksOf(process.pid);

export function currentIdentity(): ProcessIdentity {
  return { pid: process.pid, host: HOST, bootId: BOOT_ID, startTicks: OWN_START_TICKS ?? '' };
}

/** Field 22 of /proc/<pid>/stat (start time); the command name before it may hold spaces and parens. */
export function startTicksOf(pid: number): string | undefined {
  const stat = readOr(`/proc/${pid}/stat`, '');
  const end = stat.lastIndexOf(')');
  if (end < 0) return undefined;
  return stat.slice(end + 2).split(' ')[19];
}

/**
 * The longest a live writer goes without writing its row: a flush with nothing to write takes no lock and
 * writes nothing (issue 17), but writes the heartbeat this often. Ten flush intervals, at most 10 s (and at
 * least one interval). The writer row's `interval_ms` holds it: the checks below read it as "a live writer
 * writes at least this often" (a store version that wrote at every flush put its flush interval there).
 */
export function heartbeatEveryMs(flushIntervalMs: number): number {
  return Math.max(flushIntervalMs, Math.min(10 * flushIntervalMs, 10_000));
}

/** A writer on another host, or one we cannot check, is alive while its heartbeat is this fresh (3 missed). */
export function heartbeatGraceMs(heartbeatMs: number): number {
  return Math.max(3 * heartbeatMs, 30_000);
}

/** Is the process behind this writer row still running? */
export function isAlive(w: WriterRow, now: number): boolean {
  if (w.exited) return false;
  if (w.host === HOST && w.pid === process.pid && w.start_ticks === OWN_START_TICKS) return true;
  if (w.host === HOST && BOOT_ID && w.boot_id === BOOT_ID && w.start_ticks) {
    // A writer that flushed within the last two intervals and whose pid exists is its own process: a pid is
    // not reused that fast. Reading /proc for every writer at every scrape cost more than the scrape at
    // small S (bench: W=32 vs W=2), so the start time is checked only for writers that went quiet.
    if (now - w.heartbeat_at < 2 * w.interval_ms) return pidExists(w.pid);
    return startTicksOf(w.pid) === w.start_ticks;
  }
  if (w.host === HOST && !pidExists(w.pid)) return false;
  return now - w.heartbeat_at < heartbeatGraceMs(w.interval_ms);
}

function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readOr(path: string, fallback: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return fallback;
  }
}
