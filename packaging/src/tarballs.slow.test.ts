/** What `pnpm pack` puts in each tarball: what a user of the registry gets, and what the registry page shows. */
import { execFileSync } from 'node:child_process';
import { describe, expect, inject, it } from 'vitest';
import { publishablePackages } from './support/workspace.js';

const { tarballs, packError } = inject('packaging');
const names = publishablePackages().map((p) => p.name);

function entries(tarball: string): string[] {
  return execFileSync('tar', ['tzf', tarball], { encoding: 'utf8' }).trim().split('\n');
}
function read(tarball: string, file: string): string {
  return execFileSync('tar', ['xzOf', tarball, `package/${file}`], { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
}

/** Markdown links and images whose target is neither absolute nor an anchor: broken on the registry's page. */
function relativeLinks(markdown: string): string[] {
  const targets = [...markdown.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((m) => m[1] ?? '');
  const html = [...markdown.matchAll(/(?:href|src)="([^"]+)"/g)].map((m) => m[1] ?? '');
  return [...targets, ...html].filter((t) => !/^(https?:\/\/|mailto:|#)/.test(t));
}

describe('the tarballs', () => {
  it('are packed for every publishable package, the aggregator included', () => {
    expect(packError).toBeUndefined();
    expect(names).toEqual(
      expect.arrayContaining(['@kci-metrics/core', '@kci-metrics/sqlite-store', '@kci-metrics/koa']),
    );
    expect(names).toEqual(expect.arrayContaining(['@kci-metrics/express', '@kci-metrics/aggregator']));
    expect(Object.keys(tarballs).sort()).toEqual([...names].sort());
  });

  describe.each(names)('%s', (name) => {
    const tarball = () => {
      const t = tarballs[name];
      if (!t) throw new Error(`${name} was not packed: ${packError}`);
      return t;
    };

    it('has its code, types, LICENSE and README, and every file its manifest points at', () => {
      const files = entries(tarball());
      expect(files).toEqual(expect.arrayContaining(['package/dist/index.js', 'package/dist/index.d.ts']));
      expect(files).toEqual(expect.arrayContaining(['package/LICENSE', 'package/README.md', 'package/package.json']));
      const manifest = JSON.parse(read(tarball(), 'package.json'));
      const pointed: string[] = [manifest.main, manifest.types, ...Object.values(manifest.bin ?? {})];
      for (const target of Object.values<Record<string, string> | string>(manifest.exports ?? {})) {
        pointed.push(...(typeof target === 'string' ? [target] : Object.values(target)));
      }
      for (const p of pointed.filter(Boolean))
        expect(files, `${p} of ${name}`).toContain(`package/${p.replace(/^\.\//, '')}`);
    });

    it('has a description, a license and a repository, and no workspace: ranges', () => {
      const manifest = JSON.parse(read(tarball(), 'package.json'));
      expect(manifest.description, 'description').toMatch(/\w{3,}/);
      expect(manifest.license).toBe('MIT');
      const repository = typeof manifest.repository === 'string' ? { url: manifest.repository } : manifest.repository;
      expect(repository?.url, 'repository.url').toMatch(/^(git\+)?https:\/\/|^github:/);
      const ranges = ['dependencies', 'peerDependencies', 'optionalDependencies', 'devDependencies'].flatMap((field) =>
        Object.entries<string>(manifest[field] ?? {}).map(([dep, range]) => `${field}.${dep}: ${range}`),
      );
      expect(ranges.filter((r) => r.includes('workspace:'))).toEqual([]);
    });

    it('has a README whose links all work on the registry page (no relative links)', () => {
      expect(relativeLinks(read(tarball(), 'README.md'))).toEqual([]);
    });
  });
});
