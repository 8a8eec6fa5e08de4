import { chmodSync, closeSync, lstatSync, mkdirSync, openSync, realpathSync, type Stats, statSync } from 'node:fs';
import { StoreError } from './errors.js';

/**
 * Make sure the store directory is ours and safe to use (issue #6: the default lives in /tmp, where
 * another user could plant a directory or a symlink first). Creates it owner-only when missing.
 * Throws StoreError `STORE_UNSAFE_DIR` naming the path and the reason; returns the real path.
 */
export function prepareDir(dir: string): string {
  let st = lstatOrUndefined(dir);
  if (!st) {
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
    } catch (cause) {
      throw new StoreError('STORE_OPEN_FAILED', `Cannot create store directory ${dir}: ${errorText(cause)}`, {
        path: dir,
        cause,
      });
    }
    st = lstatSync(dir);
  }
  if (st.isSymbolicLink()) {
    const target = statOrUndefined(dir);
    if (!target?.isDirectory()) unsafe(dir, 'is a symlink that does not lead to a directory');
    checkOwnedDir(dir, target, 'is a symlink to a directory');
  } else {
    if (!st.isDirectory()) unsafe(dir, 'exists and is not a directory');
    checkOwnedDir(dir, st, 'is a directory');
  }
  return realpathSync(dir);
}

function checkOwnedDir(dir: string, st: Stats, what: string): void {
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) {
    unsafe(dir, `${what} owned by uid ${st.uid}, not by this process (uid ${uid})`);
  }
  // World-writable without the sticky bit: anyone could replace our database file.
  if ((st.mode & 0o002) !== 0 && (st.mode & 0o1000) === 0) {
    unsafe(dir, `${what} writable by every user without the sticky bit (mode ${(st.mode & 0o7777).toString(8)})`);
  }
}

/** Create the database file owner-only before SQLite opens it (SQLite gives -wal/-shm the same mode). */
export function prepareFile(path: string): void {
  const st = lstatOrUndefined(path);
  if (st?.isSymbolicLink()) unsafe(path, 'is a symlink; the database file must be a regular file');
  if (st && process.getuid && st.uid !== process.getuid()) {
    unsafe(path, `is owned by uid ${st.uid}, not by this process (uid ${process.getuid()})`);
  }
  if (!st) closeSync(openSync(path, 'a', 0o600));
  else if ((st.mode & 0o077) !== 0) chmodSync(path, 0o600);
}

function unsafe(path: string, reason: string): never {
  throw new StoreError('STORE_UNSAFE_DIR', `Refusing to use metrics store ${path}: it ${reason}`, { path });
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}

function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

export function errorText(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' && !err.message.includes(code) ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}
