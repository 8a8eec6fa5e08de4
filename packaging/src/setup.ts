/**
 * Global setup of the packaging tests: packs every publishable package once and installs the tarballs into
 * four fresh apps in os.tmpdir(), outside the workspace (so nothing of the repository's node_modules can be
 * resolved from them). Each install compiles better-sqlite3 from source (about a minute and a half on the
 * 2-core machine), so the apps are shared by every test file, and the npm and pnpm installs run side by side.
 *
 * A failed install does not stop the run: its error is handed to the tests, which report it.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { type InstalledApp, installApp } from './support/app.js';
import { pack, publishablePackages } from './support/workspace.js';

export interface PackagingContext {
  root: string;
  /** Package name → tarball path. */
  tarballs: Record<string, string>;
  packError?: string;
  apps: Record<AppName, InstalledApp>;
  /** Seconds each step took, for the report. */
  seconds: Record<string, number>;
}

export type AppName = 'npm' | 'pnpm' | 'npmExpress4' | 'pnpmExpress4';

declare module 'vitest' {
  export interface ProvidedContext {
    packaging: PackagingContext;
  }
}

// What the READMEs' apps use besides our packages; the npm app also carries what the PM2 and TypeScript
// tests need (one native build for all of them).
const KOA_EXPRESS5 = ['koa', '@koa/router', 'express@5'];
const NPM_EXTRA = ['pm2', 'typescript', '@types/node@20', '@types/koa', '@types/koa__router', '@types/express@5'];
const EXPRESS4 = ['express@4'];

async function timed<T>(seconds: Record<string, number>, step: string, fn: () => Promise<T>): Promise<T> {
  const start = performance.now();
  try {
    return await fn();
  } finally {
    seconds[step] = Math.round((performance.now() - start) / 100) / 10;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // While working on the tests: KCI_PACKAGING_KEEP=1 keeps the apps, KCI_PACKAGING_REUSE=<their dir> reuses them.
  const reuse = process.env.KCI_PACKAGING_REUSE;
  if (reuse) {
    project.provide('packaging', JSON.parse(await readFile(join(reuse, 'context.json'), 'utf8')) as PackagingContext);
    return async () => {};
  }
  const root = await mkdtemp(join(tmpdir(), 'kci-packaging-'));
  const seconds: Record<string, number> = {};
  const tarballs: Record<string, string> = {};
  let packError: string | undefined;
  await timed(seconds, 'pack', async () => {
    try {
      for (const pkg of publishablePackages()) tarballs[pkg.name] = await pack(pkg, join(root, 'tarballs'));
    } catch (error) {
      packError = (error as Error).message;
    }
  });
  const failed = (client: 'npm' | 'pnpm', dir: string): InstalledApp => ({
    dir,
    client,
    command: '',
    error: `not installed: packing failed: ${packError}`,
  });
  const install = (name: AppName, client: 'npm' | 'pnpm', extra: string[]) =>
    packError
      ? Promise.resolve(failed(client, join(root, name)))
      : timed(seconds, `install ${name}`, () => installApp(join(root, name), client, tarballs, extra));
  const [npm, pnpm] = await Promise.all([
    install('npm', 'npm', [...KOA_EXPRESS5, ...NPM_EXTRA]),
    install('pnpm', 'pnpm', KOA_EXPRESS5),
  ]);
  const [npmExpress4, pnpmExpress4] = await Promise.all([
    install('npmExpress4', 'npm', EXPRESS4),
    install('pnpmExpress4', 'pnpm', EXPRESS4),
  ]);
  const context: PackagingContext = {
    root,
    tarballs,
    ...(packError ? { packError } : {}),
    apps: { npm, pnpm, npmExpress4, pnpmExpress4 },
    seconds,
  };
  process.stdout.write(`packaging setup (s): ${JSON.stringify(seconds)}\n`);
  await writeFile(join(root, 'context.json'), JSON.stringify(context, null, 2));
  project.provide('packaging', context);
  return async () => {
    if (!process.env.KCI_PACKAGING_KEEP) await rm(root, { recursive: true, force: true });
  };
}
