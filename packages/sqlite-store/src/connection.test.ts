import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Connection } from './connection.js';
import { prepareDir } from './dir.js';
import { removeTempDirs, tempDir } from './test-support/children.js';

afterAll(removeTempDirs);

const busyTimeout = (conn: Connection, asked: number) =>
  conn.use('STORE_READ_FAILED', asked, (db) => db.pragma('busy_timeout', { simple: true }));

describe('Connection.use', () => {
  it('gives each use the busy timeout it asks for, also when the previous use asked for another', () => {
    const { dir } = tempDir();
    const conn = new Connection(join(dir, 'metrics.db'), () => prepareDir(dir));
    try {
      expect(busyTimeout(conn, 50)).toBe(50);
      expect(busyTimeout(conn, 50)).toBe(50);
      expect(busyTimeout(conn, 0)).toBe(0);
      expect(busyTimeout(conn, 5000)).toBe(5000);
      expect(busyTimeout(conn, 50)).toBe(50);
    } finally {
      conn.close();
    }
  });

  it('knows of a timeout changed inside a use (the scrape waits less for its housekeeping)', () => {
    const { dir } = tempDir();
    const conn = new Connection(join(dir, 'metrics.db'), () => prepareDir(dir));
    try {
      expect(
        conn.use('STORE_READ_FAILED', 1000, (db) => {
          conn.setBusyTimeout(20);
          return db.pragma('busy_timeout', { simple: true });
        }),
      ).toBe(20);
      expect(busyTimeout(conn, 1000)).toBe(1000);
    } finally {
      conn.close();
    }
  });

  it('sets the busy timeout again on a connection it reopened (the file was replaced)', () => {
    const { dir } = tempDir();
    const path = join(dir, 'metrics.db');
    const conn = new Connection(path, () => prepareDir(dir));
    try {
      expect(busyTimeout(conn, 50)).toBe(50);
      const before = conn.generation;
      rmSync(path);
      rmSync(`${path}-wal`, { force: true });
      rmSync(`${path}-shm`, { force: true });
      // Same value asked for: the new connection must not keep the timeout it was opened with.
      expect(busyTimeout(conn, 50)).toBe(50);
      expect(conn.generation).toBe(before + 1);
    } finally {
      conn.close();
    }
  });
});
