/** The workspace's publishable packages and their tarballs, packed as `pnpm publish` would pack them. */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PNPM, run } from './run.js';

export const REPO = resolve(fileURLToPath(new URL('../../..', import.meta.url)));

export interface Publishable {
  name: string;
  /** Relative to the repository root, e.g. `packages/koa`. */
  dir: string;
}

/** Every workspace package that is not private: what a user can install from the registry. */
export function publishablePackages(): Publishable[] {
  const out: Publishable[] = [];
  for (const parent of ['packages', 'apps']) {
    for (const entry of readdirSync(join(REPO, parent), { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const dir = `${parent}/${entry.name}`;
      let manifest: { name?: string; private?: boolean };
      try {
        manifest = JSON.parse(readFileSync(join(REPO, dir, 'package.json'), 'utf8'));
      } catch {
        continue;
      }
      if (!manifest.private && manifest.name) out.push({ name: manifest.name, dir });
    }
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** `pnpm pack` of one package into `dest`; returns the tarball's absolute path. */
export async function pack(pkg: Publishable, dest: string): Promise<string> {
  const { stdout } = await run('npx', [...PNPM, 'pack', '--pack-destination', dest], {
    cwd: join(REPO, pkg.dir),
    timeoutMs: 180_000,
  });
  const tarball = stdout
    .trim()
    .split('\n')
    .map((l) => l.trim())
    .reverse()
    .find((l) => l.endsWith('.tgz'));
  if (!tarball) throw new Error(`pnpm pack of ${pkg.name} printed no tarball:\n${stdout}`);
  return resolve(dest, tarball);
}
