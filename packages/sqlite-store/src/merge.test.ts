import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { GAUGE_MODES, type GaugeRow, gaugeMode, modeOf, processLabel } from './merge.js';
import { MULTIPROCESS_MODES } from './modes.js';
import { openDatabase } from './schema.js';
import { prepareStatements } from './statements.js';
import { removeTempDirs, tempDir } from './test-support/children.js';

afterAll(removeTempDirs);

/** Values of processes 1, 2, 3 ... written at times 1, 2, 3 ... (null is NaN). */
const rows = (...values: (number | null)[]): GaugeRow[] => values.map((v, i) => [1, i + 1, v, i + 1]);

describe('gauge modes', () => {
  it('combine as client_python documents them, NaN contributing nothing but a NaN most recent value', () => {
    const combined = (mode: keyof typeof GAUGE_MODES, values: GaugeRow[], retired?: { value: number; at: number }) =>
      GAUGE_MODES[mode].combine(values, retired);
    expect(combined('sum', rows(2, null, 5))).toBe(7);
    expect(combined('min', rows(2, null, -1))).toBe(-1);
    expect(combined('max', rows(2, null, 5))).toBe(5);
    expect(combined('mostrecent', rows(2, 5, null))).toBeNaN();
    expect(combined('mostrecent', rows(2, null, 5))).toBe(5);
    // Only NaN reported: NaN; nothing reported: no sample at all.
    expect(combined('livesum', rows(null, null))).toBeNaN();
    expect(combined('livesum', [])).toBeUndefined();
    // What dead processes left counts in sum/min/max/mostrecent (the retired value, as of its time).
    expect(combined('sum', rows(2), { value: 10, at: 0 })).toBe(12);
    expect(combined('min', rows(2), { value: -3, at: 0 })).toBe(-3);
    expect(combined('max', [], { value: 10, at: 0 })).toBe(10);
    expect(combined('mostrecent', rows(2), { value: 10, at: 0 })).toBe(2);
    expect(combined('mostrecent', rows(2), { value: 10, at: 5 })).toBe(10);
  });

  it('keep a dead process at fold time exactly when they count dead processes in one merged value', () => {
    for (const name of MULTIPROCESS_MODES) {
      const mode = GAUGE_MODES[name];
      expect(mode.liveOnly, name).toBe(name.startsWith('live'));
      expect(mode.perProcess, name).toBe(name === 'all' || name === 'liveall');
      expect(mode.retire !== undefined, name).toBe(!mode.liveOnly && !mode.perProcess);
    }
  });

  it('fold dead processes in SQL to what the scrape would have merged from their values', () => {
    // The fold (gc.ts, statements run by SQLite) and the scrape (render.ts, in JS) are two implementations of
    // one mode: folding processes one by one, then merging nothing live, must give the merge of all of them.
    const db = openDatabase(join(tempDir().root, 'fold.sqlite'), 1000);
    const s = prepareStatements(db);
    db.exec(
      `INSERT INTO metrics (id, name, type, help, label_names, mode, signature) VALUES (1, 'g', 'gauge', '', '[]', 'sum', '')`,
    );
    const value = fc
      .double({ noNaN: true, noDefaultInfinity: true, min: -1e9, max: 1e9 })
      .map((x) => (x === 0 ? 0 : x));
    const dead = fc.array(fc.record({ value, at: fc.integer({ min: 1, max: 5 }) }), { minLength: 1, maxLength: 8 });
    for (const name of ['sum', 'min', 'max', 'mostrecent'] as const) {
      const mode = GAUGE_MODES[name];
      fc.assert(
        fc.property(dead, (processes) => {
          db.exec('DELETE FROM series');
          db.exec(`INSERT INTO series (id, metric_id, key, labels) VALUES (1, 1, 0, '')`);
          for (const p of processes) s[mode.retire as 'retireSum'].run({ value: p.value, at: p.at, id: 1 });
          const row = db.prepare('SELECT value, retired_at FROM series WHERE id = 1').get() as {
            value: number;
            retired_at: number;
          };
          const all: GaugeRow[] = processes.map((p, i) => [1, i + 1, p.value, p.at]);
          expect(mode.combine([], { value: row.value, at: row.retired_at }), name).toBe(mode.combine(all, undefined));
        }),
      );
    }
    db.close();
  });

  it('read from a stored definition, an unknown name (another version) merging as the default livesum', () => {
    expect(gaugeMode('max')).toBe(GAUGE_MODES.max);
    expect(gaugeMode(null)).toBe(GAUGE_MODES.livesum);
    expect(gaugeMode('toString')).toBe(GAUGE_MODES.livesum);
  });

  it("come from multiprocessMode, else prom-client's aggregator setting, and an invalid one is named", () => {
    expect(modeOf('livemax', 'sum')).toBe('livemax');
    expect(modeOf(undefined, 'first')).toBe('livemax');
    expect(modeOf(undefined, undefined)).toBe('livesum');
    expect(modeOf('avg', undefined)).toEqual({
      error: `invalid multiprocessMode "avg": expected one of ${MULTIPROCESS_MODES.join(', ')}`,
    });
  });

  it('label per-process samples pid, or the first process_pid name the metric does not use itself', () => {
    expect(processLabel(['kind="k"'])).toBe('pid');
    expect(processLabel(['pid="7"'])).toBe('process_pid');
    expect(processLabel(['kind="k"', 'pid="7",process_pid="x",process_pid_2="y"'])).toBe('process_pid_3');
    expect(processLabel(['xpid="1"'])).toBe('pid');
  });
});
