import { type ChildProcess, fork, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

/** The built entry point; tests run the real program, as `kci-metrics-aggregator` and `pnpm --filter aggregator start` do. */
export const MAIN = fileURLToPath(new URL('../../dist/main.js', import.meta.url));

export function assertBuilt(): void {
  if (!existsSync(MAIN))
    throw new Error(`${MAIN} is missing: run \`pnpm turbo run build --filter=@kci-metrics/aggregator...\` first`);
}

/** A loopback port that was free a moment ago (the aggregator's env cannot ask for port 0). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

export interface Child {
  process: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the exit code (or the signal name) once the process has ended. */
  exited: Promise<number | string>;
  /** Resolves when stdout contains `text`; rejects if the process ends first. */
  waitFor(text: string): Promise<void>;
}

/** Run dist/main.js with only PATH and the given variables in its environment. */
export function runMain(env: Record<string, string>, options: { ipc?: boolean; args?: string[] } = {}): Child {
  const childEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env };
  const args = options.args ?? [];
  const child = options.ipc
    ? fork(MAIN, args, { env: childEnv, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] })
    : spawn(process.execPath, [MAIN, ...args], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    out += chunk.toString('utf8');
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    err += chunk.toString('utf8');
  });
  const exited = new Promise<number | string>((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
  );
  return {
    process: child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitFor: (text) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (out.includes(text)) {
            child.stdout?.off('data', check);
            resolve();
          }
        };
        child.stdout?.on('data', check);
        check();
        void exited.then((code) => reject(new Error(`aggregator exited (${code}) before "${text}"; stderr: ${err}`)));
      }),
  };
}
