import { readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type Database from 'better-sqlite3';
import { errorText, prepareFile } from './dir.js';
import { type DriverLoadError, driverLoadError, nodeTooOld } from './driver.js';
import { StoreError, type StoreErrorCode } from './errors.js';
import { openDatabase } from './schema.js';
import { prepareStatements, type Statements } from './statements.js';

/**
 * One database connection, opened lazily and reopened when it broke or when the file was replaced
 * (deleted, restored, moved aside after corruption): the store heals without a restart.
 */
export class Connection {
  private db: Database.Database | undefined;
  private stmts: Statements | undefined;
  private inode: number | undefined;
  /** The busy timeout the open connection has, in ms; undefined until use() sets one. */
  private busyTimeoutMs: number | undefined;
  /** Bumped at every (re)open: cached row ids from an older generation are meaningless. */
  generation = 0;

  constructor(
    readonly path: string,
    /** Runs before every (re)open: makes sure the directory exists and is still safely ours. */
    private readonly prepare: () => void,
  ) {}

  /** Run `fn` with an open database; SQLite errors become StoreErrors carrying the path and the cause. */
  use<T>(code: StoreErrorCode, busyTimeoutMs: number, fn: (db: Database.Database, s: Statements) => T): T {
    try {
      const [db, s] = this.open();
      this.setBusyTimeout(busyTimeoutMs);
      return fn(db, s);
    } catch (cause) {
      if (cause instanceof StoreError) throw cause;
      const driver = driverLoadError(cause);
      if (driver) {
        // The cause carries the remedy too: the store's flush log prints the cause, the aggregator the message.
        throw new StoreError('STORE_DRIVER_UNAVAILABLE', `Metrics store ${this.path}: ${driver.message}`, {
          path: this.path,
          cause: driver,
        });
      }
      if (!isTransient(cause)) this.drop();
      throw new StoreError(code, `Metrics store ${this.path}: ${errorText(cause)}`, { path: this.path, cause });
    }
  }

  /**
   * Change how long the open connection waits for a lock, also inside a use() (the scrape's housekeeping
   * waits less than its read). Every change goes through here, so the connection knows the timeout it has
   * and sets it only when it changes: db.pragma() compiles its statement at every call (125 µs of a
   * 1.6-2.4 ms periodic flush under load, every flush asking for the same 50 ms).
   */
  setBusyTimeout(ms: number): void {
    if (ms === this.busyTimeoutMs || !this.db) return;
    this.db.pragma(`busy_timeout = ${ms}`);
    this.busyTimeoutMs = ms;
  }

  close(): void {
    this.drop();
  }

  private open(): [Database.Database, Statements] {
    if (this.db && this.stmts && this.sameFile()) return [this.db, this.stmts];
    this.drop();
    this.prepare();
    prepareFile(this.path);
    const unsupported = driverUnsupported();
    if (unsupported) throw unsupported;
    const db = openDatabase(this.path, 1000);
    this.db = db;
    this.stmts = prepareStatements(db);
    this.inode = statSync(this.path).ino;
    this.generation++;
    return [db, this.stmts];
  }

  private sameFile(): boolean {
    try {
      return statSync(this.path).ino === this.inode;
    } catch {
      return false;
    }
  }

  private drop(): void {
    try {
      this.db?.close();
    } catch {
      // closing a broken connection can fail too; it is gone either way
    }
    this.db = undefined;
    this.stmts = undefined;
    this.busyTimeoutMs = undefined;
  }
}

let driverCheck: { error: DriverLoadError | undefined } | undefined;

/** Whether the installed better-sqlite3 supports this Node.js (read once: it cannot change while we run). */
function driverUnsupported(): DriverLoadError | undefined {
  if (driverCheck === undefined) {
    driverCheck = { error: nodeTooOld(driverManifest()) };
  }
  return driverCheck.error;
}

/** The manifest of the better-sqlite3 that `import` loads (found from its entry point, as the loader finds it). */
function driverManifest(): { name?: unknown; version?: unknown; engines?: { node?: unknown } } {
  try {
    let dir = dirname(fileURLToPath(import.meta.resolve('better-sqlite3')));
    for (let depth = 0; depth < 3; depth++, dir = dirname(dir)) {
      try {
        const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
        if (manifest.name === 'better-sqlite3') return manifest;
      } catch {
        // no package.json at this level
      }
    }
  } catch {
    // not resolvable here: loading the module reports what is wrong
  }
  return {};
}

/** Lock contention passes by itself; anything else (corrupt file, I/O, permissions) warrants a reopen. */
function isTransient(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED' || code === 'SQLITE_FULL';
}
