/**
 * Running the package managers and the installed programs as a user's shell would: no variables of the
 * workspace's own pnpm run leak into them.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/**
 * The environment of a user's shell: this process's, without what pnpm, npm and vitest put there for the
 * workspace (`npm_config_*` would point the apps' installs at the workspace's settings). `npm_config_nodedir`
 * stays: .ci/run sets it so node-gyp finds the headers of the Node it runs (no download of them here).
 */
export function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    const lower = key.toLowerCase();
    if (lower === 'npm_config_nodedir') env[key] = value;
    else if (
      lower.startsWith('npm_') ||
      lower.startsWith('pnpm_') ||
      key.startsWith('VITEST') ||
      key === 'NODE_OPTIONS'
    )
      continue;
    else env[key] = value;
  }
  return { ...env, ...extra };
}

export interface RunOptions {
  cwd: string;
  env?: Record<string, string>;
  timeoutMs?: number;
}

/**
 * Runs a command to completion; a non-zero exit throws with the command line and the end of its output, so a
 * failed install says why in the test report.
 */
export async function run(
  command: string,
  args: string[],
  options: RunOptions,
): Promise<{ stdout: string; stderr: string }> {
  try {
    return await execFileAsync(command, args, {
      cwd: options.cwd,
      env: userEnv(options.env),
      timeout: options.timeoutMs ?? 300_000,
      maxBuffer: 64 * 1024 * 1024,
      killSignal: 'SIGKILL',
    });
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; code?: unknown; signal?: unknown };
    const tail = `${e.stdout ?? ''}\n${e.stderr ?? ''}`.trim().split('\n').slice(-40).join('\n');
    throw new Error(
      `\`${[command, ...args].join(' ')}\` in ${options.cwd} failed (exit ${String(e.code)}, ${String(e.signal)}):\n${tail}`,
    );
  }
}

/** pnpm exactly as the READMEs name it, through npx like the root README's commands. */
export const PNPM = ['--yes', 'pnpm@12.4.2'];
