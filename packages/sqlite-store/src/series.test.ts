import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Counter, Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from './index.js';
import { labelKey } from './labels.js';
import { DB_FILE } from './store.js';
import { removeTempDirs, tempDir } from './test-support/children.js';
import { parseExposition, sampleValue } from './test-support/exposition.js';

afterAll(removeTempDirs);

const quiet = { warn() {} };

/** A process's counter `collide_total` with label k, and its store on `dir`. */
function writer(dir: string) {
  const registry = new Registry();
  const counter = new Counter({ name: 'collide_total', help: 'c', labelNames: ['k'], registers: [registry] });
  const store = openStore({ dir, flushIntervalMs: 60_000, logger: quiet });
  store.attach(registry);
  return { counter, store };
}

describe('series found by label key', () => {
  it('keeps two label sets whose keys collide apart, across processes', async () => {
    // Two label sets with one 32-bit key (found by search): the index finds both, their text tells them apart.
    expect(labelKey('k="112789"')).toBe(labelKey('k="349192"'));
    const { dir } = tempDir();
    const a = writer(dir);
    const b = writer(dir);
    a.counter.inc({ k: '112789' }, 1);
    a.counter.inc({ k: '349192' }, 2);
    expect(a.store.flush()).toBe(true);
    b.counter.inc({ k: '349192' }, 20);
    b.counter.inc({ k: '112789' }, 10);
    b.counter.inc({ k: '7' }, 100);
    expect(b.store.flush()).toBe(true);

    const exp = parseExposition(await a.store.metrics());
    expect(sampleValue(exp, 'collide_total', { k: '112789' })).toBe(11);
    expect(sampleValue(exp, 'collide_total', { k: '349192' })).toBe(22);
    expect(sampleValue(exp, 'collide_total', { k: '7' })).toBe(100);
    const db = new Database(join(dir, DB_FILE), { readonly: true });
    const rows = db.prepare('SELECT labels, key FROM series ORDER BY id').all() as { labels: string; key: number }[];
    expect(rows).toEqual([
      { labels: 'k="112789"', key: labelKey('k="112789"') },
      { labels: 'k="349192"', key: labelKey('k="349192"') },
      { labels: 'k="7"', key: labelKey('k="7"') },
    ]);
    db.close();
    a.store.close();
    b.store.close();
  });
});

describe('schema versions', () => {
  it('refuses a database of a newer version, naming it, and leaves it as it is', async () => {
    const { dir } = tempDir();
    const first = writer(dir);
    first.counter.inc({ k: 'a' }, 3);
    expect(first.store.flush()).toBe(true);
    first.store.close();
    const db = new Database(join(dir, DB_FILE));
    db.pragma('user_version = 4');
    const store = openStore({ dir, logger: quiet });
    await expect(store.metrics()).rejects.toThrow(
      'database schema version 4 is not 3: made by a newer store version; use a fresh store directory',
    );
    store.close();
    expect(db.pragma('user_version', { simple: true })).toBe(4);
    expect(db.prepare('SELECT value FROM series').pluck().get()).toBe(3);
    db.close();
  });
});
