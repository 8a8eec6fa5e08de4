import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

// Issue 14: with `skipLibCheck: false`, every declaration file reachable from the package's types is checked,
// and one that imports 'better-sqlite3' fails with TS7016 unless the user installs @types/better-sqlite3 (a
// devDependency here). The published declarations must therefore never reach better-sqlite3's types.
const DIST = fileURLToPath(new URL('../dist/', import.meta.url));

it('the declarations reachable from dist/index.d.ts import nothing from better-sqlite3', () => {
  const entry = join(DIST, 'index.d.ts');
  expect(existsSync(entry), 'build the package first').toBe(true);
  const seen = new Set<string>();
  const bare = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    for (const [, specifier] of text.matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)) {
      if (specifier === undefined) continue;
      if (specifier.startsWith('.')) visit(join(dirname(file), specifier.replace(/\.js$/, '.d.ts')));
      else bare.add(specifier);
    }
  };
  visit(entry);
  expect(seen.size).toBeGreaterThan(3);
  expect(bare).toContain('prom-client');
  expect(bare.has('better-sqlite3')).toBe(false);
});
