/** docs/monitoring.md stays true to the code: every variable, alert, panel and file it should name. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseEnvFile } from './support/compose.js';
import { alertRules, loadDashboard } from './support/dashboard.js';
import { readRepoFile, repoPath } from './support/repo.js';

const doc = readRepoFile('docs/monitoring.md');

/** Variables the code reads: `env.NAME`, or a quoted name passed to a parser. */
function variablesReadBy(dir: string): string[] {
  const names = new Set<string>();
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, entry.name);
      if (entry.isDirectory() && entry.name !== 'test-support') walk(path);
      else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) {
        const text = readFileSync(path, 'utf8');
        for (const m of text.matchAll(/(?:env\.|['"`])(PROMETHEUS_[A-Z0-9_]+|BACKEND_[A-Z0-9_]+|WEB_CONCURRENCY)\b/g)) {
          names.add(m[1] as string);
        }
      }
    }
  };
  if (existsSync(repoPath(dir))) walk(repoPath(dir));
  return [...names].sort();
}

describe('docs/monitoring.md', () => {
  const variables = [
    ...new Set([
      ...variablesReadBy('packages/core/src'),
      ...variablesReadBy('apps/aggregator/src'),
      ...variablesReadBy('apps/backend/src'),
      ...parseEnvFile(readRepoFile('.env.backend.example')).map((e) => e.key),
    ]),
  ];

  it('documents every variable the metrics, the aggregator and the demo backend read', () => {
    // The seed's three and the flush interval at least; the list grows with the code.
    expect(variables).toEqual(
      expect.arrayContaining([
        'PROMETHEUS_METRICS_ENABLED',
        'PROMETHEUS_METRICS_PORT',
        'PROMETHEUS_MULTIPROC_DIR',
        'PROMETHEUS_METRICS_HOST',
        'PROMETHEUS_METRICS_FLUSH_INTERVAL_MS',
      ]),
    );
    const missing = variables.filter((v) => !doc.includes(`\`${v}\``));
    expect(missing).toEqual([]);
  });

  it('has the Quick Start with both options and the seed commands', () => {
    for (const text of [
      '## Quick Start',
      '#### Option A: Docker Compose',
      '#### Option B: Local development',
      'docker compose -f docker-compose.monitoring.yml up -d',
      'docker compose up -d backend',
      'pnpm@12.4.2 start',
      'http://localhost:8001/metrics/',
      '**admin** / **admin**',
      '## Troubleshooting',
    ]) {
      expect(doc).toContain(text);
    }
  });

  it('names every alert and the seed panels', () => {
    for (const rule of alertRules()) expect(doc).toContain(`\`${rule.alert}\``);
    const titles = loadDashboard().panels.map((p) => p.title);
    for (const title of [
      'Average Response Time by Endpoint',
      'Total Calls by Endpoint',
      'Endpoint Performance Summary',
    ]) {
      expect(titles).toContain(title);
      expect(doc).toContain(`**${title}**`);
    }
  });

  it('refers only to repository files that exist', () => {
    const paths = [
      ...doc.matchAll(
        /`((?:monitoring|apps|packages|docs)\/[\w./-]+|docker-compose[\w.]*\.yml|\.env\.backend\.example)`/g,
      ),
    ].map((m) => m[1] as string);
    expect(paths.length).toBeGreaterThan(10);
    // dist/ is built, not committed.
    for (const path of paths.filter((p) => !p.includes('/dist/'))) expect(existsSync(repoPath(path)), path).toBe(true);
  });
});
