import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's monitoring/ directory. */
export const MONITORING_DIR = fileURLToPath(new URL('../../', import.meta.url));

/** The repository root. */
export const REPO_ROOT = resolve(MONITORING_DIR, '..');

/** An absolute path from a path relative to the repository root. */
export function repoPath(relative: string): string {
  return resolve(REPO_ROOT, relative);
}

/** A repository file's text, by its path relative to the repository root. */
export function readRepoFile(relative: string): string {
  return readFileSync(repoPath(relative), 'utf8');
}
