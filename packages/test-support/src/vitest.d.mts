import type { UserWorkspaceConfig } from 'vitest/config';

/** The export condition under which the workspace packages point at their `src/index.ts`. */
export const SOURCE_CONDITION: '@kci-metrics/source';

/** True when the slow tests run too (`KCI_SLOW_TESTS=1`). */
export const slowTests: boolean;

/** The glob of the slow test files. */
export const SLOW_TESTS: string;

export interface ProjectOptions {
  /** The project name, as `--project` selects it. */
  name: string;
  /** Test files, relative to the project; default `src/**\/*.test.ts`. */
  include?: string[];
  /** Per-test and per-hook timeout in ms; default 60 s. */
  timeout?: number;
  /** Further vitest options of the project. */
  test?: UserWorkspaceConfig['test'];
}

/** A package's vitest project: source resolution, slow tests left out unless KCI_SLOW_TESTS=1. */
export function kciProject(options: ProjectOptions): UserWorkspaceConfig;
