/**
 * A fresh app outside the workspace that installs the packed tarballs the way the READMEs say, with npm or
 * with pnpm. The tarballs stand in for the registry: a README's `@kci-metrics/koa` becomes the path of its
 * tarball, and (pnpm only: it resolves a tarball's own dependencies from the registry) an override points
 * `@kci-metrics/*` dependencies at the tarballs too. Nothing else differs from a user's install.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { installSteps } from './readme.js';
import { PNPM, run } from './run.js';
import { publishablePackages } from './workspace.js';

export type Client = 'npm' | 'pnpm';

export interface InstalledApp {
  dir: string;
  client: Client;
  /** The install command that ran, for the report. */
  command: string;
  /** Set when the install failed: every test of this app reports it. */
  error?: string;
}

/** The READMEs whose install lines a user follows: the root README and every publishable package's. */
function readmes(): string[] {
  return ['README.md', ...publishablePackages().map((p) => `${p.dir}/README.md`)];
}

/**
 * What the READMEs say to type, merged into one install (one native build per app), and the commands that
 * follow it. A README that shows only pnpm is followed by an npm user with the same names after
 * `npm install`, without pnpm's flags and pnpm's follow-up commands.
 */
export function readmeInstall(client: Client): { words: string[]; afterwards: string[][] } {
  const steps = readmes().flatMap((file) => {
    const own = installSteps(file, client);
    if (client === 'pnpm' || own.length > 0) return own;
    return installSteps(file, 'pnpm').map((s) => ({
      install: s.install.filter((w) => !w.startsWith('-')),
      afterwards: [],
    }));
  });
  const afterwards = new Map(steps.flatMap((s) => s.afterwards).map((args) => [args.join(' '), args]));
  return { words: [...new Set(steps.flatMap((s) => s.install))], afterwards: [...afterwards.values()] };
}

/** A registry name (with or without a version range) becomes its tarball's path. */
function toTarball(word: string, tarballs: Record<string, string>): string {
  const name = word.startsWith('@') ? `@${word.slice(1).split('@')[0]}` : (word.split('@')[0] ?? word);
  return tarballs[name] ?? word;
}

export async function installApp(
  dir: string,
  client: Client,
  tarballs: Record<string, string>,
  extra: string[],
): Promise<InstalledApp> {
  await mkdir(dir, { recursive: true });
  await writeFile(
    join(dir, 'package.json'),
    `${JSON.stringify({ name: `${client}-app`, version: '1.0.0', private: true, type: 'module' }, null, 2)}\n`,
  );
  const readme = readmeInstall(client);
  const fromReadmes = readme.words.map((w) => toTarball(w, tarballs));
  // Every @kci-metrics package a README names depends on others the registry would bring; from tarballs,
  // npm takes them from the install line, pnpm from the overrides below.
  const words = [...new Set([...fromReadmes, ...Object.values(tarballs), ...extra])];
  if (client === 'pnpm') {
    const overrides = Object.entries(tarballs).map(([name, path]) => `  '${name}': 'file:${path}'`);
    // A store of its own: a fresh machine's, so the native build cannot come from another run's cache.
    await writeFile(
      join(dir, 'pnpm-workspace.yaml'),
      `storeDir: ${join(dir, '..', 'pnpm-store')}\noverrides:\n${overrides.join('\n')}\n`,
    );
  }
  const opts = { cwd: dir, timeoutMs: 1_200_000 };
  const invoke = (args: string[]) => (client === 'npm' ? run('npm', args, opts) : run('npx', [...PNPM, ...args], opts));
  const commands = [[client === 'npm' ? 'install' : 'add', ...words], ...readme.afterwards];
  const line = commands.map((args) => `${client} ${args.join(' ')}`).join(' && ');
  try {
    try {
      await invoke(commands[0] ?? []);
    } catch (error) {
      // pnpm 10+ exits with ERR_PNPM_IGNORED_BUILDS when a dependency's build was not allowed yet; the
      // READMEs' next command (approve-builds) is the answer to exactly that.
      if (!(readme.afterwards.length > 0 && /ERR_PNPM_IGNORED_BUILDS/.test((error as Error).message))) throw error;
    }
    for (const args of readme.afterwards) await invoke(args);
    return { dir, client, command: line };
  } catch (error) {
    return { dir, client, command: line, error: (error as Error).message };
  }
}
