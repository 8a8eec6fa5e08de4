import { spawn } from 'node:child_process';
import { findBinary } from './binaries.js';

export interface PromtoolResult {
  /** The exit code (-1 when promtool could not be started or was killed). */
  code: number;
  /** stdout and stderr together: promtool prints problems on either. */
  output: string;
}

/**
 * Run promtool with `args` in `cwd`, feeding `input` on stdin (`check metrics` reads the exposition
 * there). Never throws for a failed check: the exit code and output are the result.
 *
 * @example
 * const { code, output } = await runPromtool(['check', 'metrics'], { input: await (await fetch(url)).text() });
 * expect(code, output).toBe(0);
 */
export function runPromtool(
  args: readonly string[],
  options: { cwd?: string; input?: string } = {},
): Promise<PromtoolResult> {
  const binary = findBinary('promtool');
  if (!binary) throw new Error('promtool is not installed (Debian package "prometheus")');
  return new Promise((resolve) => {
    const child = spawn(binary, args, { cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.once('error', (error) => resolve({ code: -1, output: `${output}${error.message}` }));
    child.once('close', (code) => resolve({ code: code ?? -1, output }));
    child.stdin.on('error', () => {}); // promtool may exit before reading everything; its exit code tells
    child.stdin.end(options.input ?? '');
  });
}
