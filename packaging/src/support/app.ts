/**
 * A fresh app outside the workspace that installs the packed tarballs the way the READMEs say, with npm or
 * with pnpm. The tarballs stand in for the registry: a README's `@kci-metrics/koa` becomes the path of its
 * tarball, and (pnpm only: it resolves a tarball's own dependencies from the registry) an override points
 * `@kci-metrics/*` dependencies at the tarballs too. Nothing else differs from a user's install.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { installLines } from './readme.js';
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
 * The words after `pnpm add` / `npm install` of every README install line, merged into one install (one
 * native build per app). An npm user of READMEs that only show pnpm types the same names after `npm install`,
 * without pnpm's flags.
 */
export function readmeInstallWords(client: Client): string[] {
  let lines = readmes().flatMap((file) => installLines(file, client));
  if (client === 'npm' && lines.length === 0) {
    lines = readmes()
      .flatMap((file) => installLines(file, 'pnpm'))
      .map((words) => words.filter((w) => !w.startsWith('-')));
  }
  return [...new Set(lines.flat())];
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
  const fromReadmes = readmeInstallWords(client).map((w) => toTarball(w, tarballs));
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
  const [command, args] = client === 'npm' ? ['npm', ['install', ...words]] : ['npx', [...PNPM, 'add', ...words]];
  const line = `${command} ${args.join(' ')}`;
  try {
    await run(command, args, { cwd: dir, timeoutMs: 480_000 });
    return { dir, client, command: line };
  } catch (error) {
    return { dir, client, command: line, error: (error as Error).message };
  }
}
