// Issue 17: a scrape of a store in which nothing changed reads a few small tables and renders nothing; any
// change another process commits, a writer's death (live gauge modes) and this reader's own folding of dead
// writers are seen by the next scrape.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { openStore } from './index.js';
import { killAll, killHard, removeTempDirs, startWorker, tempDir } from './test-support/children.js';
import { parseExposition, sampleValue } from './test-support/exposition.js';

afterEach(killAll);
afterAll(removeTempDirs);

const quiet = { warn() {} };

const script = [
  { op: 'define', kind: 'counter', config: { name: 'jobs_total', help: 'Jobs', labelNames: ['q'] } },
  { op: 'define', kind: 'gauge', config: { name: 'busy', help: 'Busy', multiprocessMode: 'liveall' } },
  { op: 'inc', name: 'jobs_total', labels: { q: 'a' }, value: 2 },
  { op: 'set', name: 'busy', value: 1 },
  { op: 'flush' },
];

describe('scraping an unchanged store', () => {
  it('reuses the rendered families, and renders again after any change, death or fold', async () => {
    const { dir } = tempDir();
    const a = await startWorker({ dir, script });
    const b = await startWorker({ dir, script });
    const reader = openStore({ dir, logger: quiet });
    try {
      const first = await reader.scrape({ extraFamilies: [] });
      const again = await reader.scrape({ extraFamilies: [] });
      expect(again.parts.version).toBe(first.parts.version);
      expect(again.parts.stored).toBe(first.parts.stored);
      expect(again.body).toBe(first.body);
      expect(sampleValue(parseExposition(first.body), 'jobs_total', { q: 'a' })).toBe(4);
      // One rendering is kept (a Prometheus server scrapes in one format): another format renders once,
      // then is reused; back to the first, it renders again, the same text.
      const om = await reader.scrape({ format: 'openmetrics' });
      expect(om.parts.version).not.toBe(first.parts.version);
      expect((await reader.scrape({ format: 'openmetrics' })).parts.version).toBe(om.parts.version);
      const back = await reader.scrape({ extraFamilies: [] });
      expect(back.parts.version).not.toBe(om.parts.version);
      expect(back.body).toBe(first.body);

      // Another process commits a change: the next scrape shows it.
      await a.call('inc', { name: 'jobs_total', labels: { q: 'a' }, value: 5 });
      expect(await a.call('flush')).toBe(true);
      const changed = await reader.scrape();
      expect(changed.parts.version).not.toBe(first.parts.version);
      expect(sampleValue(parseExposition(changed.body), 'jobs_total', { q: 'a' })).toBe(9);

      // A writer dies: no row changes, but its liveall gauge goes at once.
      const pidB = b.pid;
      await killHard(b);
      const afterDeath = await reader.scrape();
      const busy = parseExposition(afterDeath.body).samples.filter((s) => s.name === 'busy');
      expect(busy.map((s) => s.labels.pid)).toEqual([String(a.pid)]);
      expect(afterDeath.body).not.toContain(`pid="${pidB}"`);
      expect(sampleValue(parseExposition(afterDeath.body), 'jobs_total', { q: 'a' })).toBe(9);
      expect((await reader.scrape()).parts.version).toBe(afterDeath.parts.version);
    } finally {
      reader.close();
    }
  });
});
