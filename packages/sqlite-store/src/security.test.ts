import { chmodSync, chownSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Counter, Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { type MetricsStore, openStore } from './index.js';
import { captureLogger, removeTempDirs, tempDir } from './test-support/children.js';

afterAll(removeTempDirs);

const quiet = { warn() {} };
const uid = process.getuid?.() ?? -1;
/** Only root can give a directory to another user; elsewhere a root-owned directory stands in. */
const isRoot = uid === 0;
const NOBODY = 65534;

/** A directory owned by another user: made and given away as root, else one root owns. */
function othersDir(): string {
  if (!isRoot) return '/usr';
  const { root } = tempDir();
  const dir = join(root, 'theirs');
  mkdirSync(dir, { mode: 0o700 });
  chownSync(dir, NOBODY, NOBODY);
  return dir;
}

function refusal(dir: string): { code: unknown; message: string; path: unknown } {
  try {
    openStore({ dir, logger: quiet }).close();
  } catch (err) {
    const e = err as { code?: unknown; message: string; path?: unknown };
    return { code: e.code, message: e.message, path: e.path };
  }
  throw new Error(`openStore accepted ${dir}`);
}

function written(store: MetricsStore): void {
  const registry = new Registry();
  new Counter({ name: 'secure_total', help: 'h', registers: [registry] }).inc();
  store.attach(registry);
  expect(store.flush()).toBe(true);
}

describe('the store directory and files', () => {
  it('are created owner-only: directory 0700, database and its WAL files 0600', () => {
    const { root } = tempDir();
    const dir = join(root, 'nested', 'store');
    const store = openStore({ dir, logger: quiet });
    written(store);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    for (const file of ['kci-metrics.sqlite', 'kci-metrics.sqlite-wal', 'kci-metrics.sqlite-shm']) {
      expect(statSync(join(dir, file)).mode & 0o777, file).toBe(0o600);
    }
    store.close();
  });

  it('a database file left group- or world-readable is made owner-only again', () => {
    const { dir } = tempDir();
    openStore({ dir, logger: quiet }).close();
    writeFileSync(join(dir, 'kci-metrics.sqlite'), '');
    chmodSync(join(dir, 'kci-metrics.sqlite'), 0o644);
    const store = openStore({ dir, logger: quiet });
    written(store);
    expect(statSync(join(dir, 'kci-metrics.sqlite')).mode & 0o777).toBe(0o600);
    store.close();
  });

  it('a directory owned by another user is refused, naming the path', () => {
    const dir = othersDir();
    expect(refusal(dir)).toEqual({
      code: 'STORE_UNSAFE_DIR',
      path: dir,
      message: `Refusing to use metrics store ${dir}: it is a directory owned by uid ${statSync(dir).uid}, not by this process (uid ${uid})`,
    });
  });

  it('a world-writable directory without the sticky bit is refused; with it, accepted', () => {
    const { dir } = tempDir();
    mkdirSync(dir);
    chmodSync(dir, 0o777);
    expect(refusal(dir)).toMatchObject({ code: 'STORE_UNSAFE_DIR', path: dir });
    expect(refusal(dir).message).toContain(
      `${dir}: it is a directory writable by every user without the sticky bit (mode 777)`,
    );
    chmodSync(dir, 0o1777);
    const store = openStore({ dir, logger: quiet });
    written(store);
    store.close();
  });

  it('a symlink to a directory of another user is refused; a symlink to our own directory is followed', () => {
    const { root } = tempDir();
    const link = join(root, 'link');
    symlinkSync(othersDir(), link);
    expect(refusal(link)).toMatchObject({ code: 'STORE_UNSAFE_DIR', path: link });
    expect(refusal(link).message).toMatch(
      new RegExp(`^Refusing to use metrics store ${link}: it is a symlink to a directory owned by uid`),
    );

    const ours = join(root, 'ours');
    mkdirSync(ours, { mode: 0o700 });
    symlinkSync(ours, join(root, 'our-link'));
    const store = openStore({ dir: join(root, 'our-link'), logger: quiet });
    expect(store.path).toBe(join(ours, 'kci-metrics.sqlite'));
    store.close();
  });

  it('a dangling symlink or a file in place of the directory is refused', () => {
    const { root } = tempDir();
    symlinkSync(join(root, 'nowhere'), join(root, 'dangling'));
    expect(refusal(join(root, 'dangling'))).toMatchObject({ code: 'STORE_UNSAFE_DIR' });
    expect(refusal(join(root, 'dangling')).message).toContain('is a symlink that does not lead to a directory');
    writeFileSync(join(root, 'file'), '');
    expect(refusal(join(root, 'file')).message).toContain(`${join(root, 'file')}: it exists and is not a directory`);
  });

  it('a database file replaced by a symlink is not followed: flushes fail, logged once, the target is untouched', async () => {
    const { root, dir } = tempDir();
    const { logger, warnings } = captureLogger();
    const store = openStore({ dir, logger });
    const target = join(root, 'precious');
    writeFileSync(target, 'do not overwrite');
    symlinkSync(target, join(dir, 'kci-metrics.sqlite'));
    const registry = new Registry();
    new Counter({ name: 'secure_total', help: 'h', registers: [registry] }).inc();
    store.attach(registry);
    expect(store.flush()).toBe(false);
    expect(store.flush()).toBe(false);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`${dir}/kci-metrics.sqlite: it is a symlink`);
    await expect(store.metrics()).rejects.toMatchObject({ code: 'STORE_UNSAFE_DIR' });
    expect(readFileSync(target, 'utf8')).toBe('do not overwrite');
    store.close();
  });
});
