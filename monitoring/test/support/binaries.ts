import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/**
 * Locate a Prometheus tool (`prometheus`, `promtool`): `$PROMETHEUS_BIN` / `$PROMTOOL_BIN` first, then
 * `PATH`. Returns undefined when it is not installed.
 *
 * @example
 * const promtool = findBinary('promtool'); // '/usr/bin/promtool' once Debian's prometheus package is installed
 */
export function findBinary(name: 'prometheus' | 'promtool'): string | undefined {
  const override = process.env[`${name.toUpperCase()}_BIN`];
  if (override) return isExecutable(override) ? override : undefined;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/**
 * The binary's path, or undefined when it is missing and the run is local (the caller skips its tests).
 * On CI (`CI` set) a missing binary is an error: .ci/run installs Debian's `prometheus` package, and
 * silently skipping the proof of the monitoring files there would hide a broken setup.
 *
 * @example
 * const promtool = binaryOrSkip('promtool');
 * describe.skipIf(!promtool)('promtool', () => { ... });
 */
export function binaryOrSkip(name: 'prometheus' | 'promtool'): string | undefined {
  const found = findBinary(name);
  if (found) return found;
  const why = `${name} is not installed (looked at $${name.toUpperCase()}_BIN and PATH); Debian's "prometheus" package provides it`;
  if (process.env.CI) throw new Error(`${why}. .ci/run must install it.`);
  console.warn(`[monitoring tests] skipping the tests that need ${name}: ${why}.`);
  return undefined;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
