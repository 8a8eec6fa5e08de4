import { spawnSync } from 'node:child_process';

/** True when `promtool` runs here. In CI (process.env.CI set) a missing promtool must fail the test, not skip it. */
export const hasPromtool: boolean = spawnSync('promtool', ['--version'], { stdio: 'ignore' }).status === 0;
export const skipPromtool: boolean = !hasPromtool && !process.env.CI;

/**
 * `promtool check metrics` on a Prometheus text exposition: parses it and lints it (counters need `_total`,
 * base units, HELP present, ...). Returns promtool's exit code and everything it printed.
 */
export function promtoolCheck(exposition: string): { status: number | null; output: string } {
  const result = spawnSync('promtool', ['check', 'metrics'], { input: exposition, encoding: 'utf8', timeout: 20_000 });
  if (result.error) throw new Error(`promtool could not run: ${result.error.message}`);
  return { status: result.status, output: `${result.stdout}${result.stderr}`.trim() };
}
