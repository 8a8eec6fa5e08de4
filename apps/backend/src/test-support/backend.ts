/** Helpers for tests that run the real backend (dist/main.js, dist/demo.js) as a child process. */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const DIST = fileURLToPath(new URL('../../dist/', import.meta.url));

export type Entry = 'main' | 'demo' | 'traffic';

export function entryPath(entry: Entry): string {
  const path = `${DIST}${entry}.js`;
  if (!existsSync(path)) throw new Error(`${path} is missing: build first (pnpm turbo run build --filter=backend...)`);
  return path;
}

/** The child's environment: this process's, without any backend or metrics setting that could leak in. */
export function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^(PROMETHEUS_|BACKEND_|WEB_CONCURRENCY|TRAFFIC_)/.test(key)) env[key] = value;
  }
  return { ...env, BACKEND_HOST: '127.0.0.1', BACKEND_PORT: '0', PROMETHEUS_METRICS_HOST: '127.0.0.1', ...extra };
}

/** A free loopback port (for the aggregator, whose port must be 1-65535). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A running backend: its port, the pids its workers reported, and its output so far. */
export class BackendProcess {
  readonly child: ChildProcess;
  private out = '';
  private readonly exited: Promise<Exit>;

  /** `detached` puts it in its own process group, which `interrupt()` signals like Ctrl+C in a terminal. */
  constructor(entry: Entry, env: NodeJS.ProcessEnv, args: string[] = [], options: { detached?: boolean } = {}) {
    this.child = spawn(process.execPath, [entryPath(entry), ...args], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: options.detached === true,
    });
    this.child.stdout?.on('data', (d: Buffer) => (this.out += d.toString()));
    this.child.stderr?.on('data', (d: Buffer) => (this.out += d.toString()));
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  get output(): string {
    return this.out;
  }

  /** The shared API port, from the workers' "listening on port N" lines. */
  get port(): number {
    const match = /listening on port (\d+)/.exec(this.out);
    if (!match) throw new Error(`no worker is listening yet:\n${this.out}`);
    return Number(match[1]);
  }

  /** Pids of workers that reported listening, in order. */
  get workerPids(): number[] {
    return [...this.out.matchAll(/\(pid (\d+)\) listening/g)].map((m) => Number(m[1]));
  }

  async waitFor(pattern: RegExp, timeoutMs = 15_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = this.out.match(pattern);
      if (match) return match;
      if (this.child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`waited for ${pattern} in vain (exit ${this.child.exitCode}):\n${this.out}`);
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** SIGINT to the whole process group (primary, workers, aggregator), as Ctrl+C does. Needs `detached`. */
  interrupt(): void {
    process.kill(-(this.child.pid as number), 'SIGINT');
  }

  exit(): Promise<Exit> {
    return this.exited;
  }

  /** Send SIGTERM and wait for the exit; SIGKILL if it takes longer than `timeoutMs`. */
  async stop(timeoutMs = 15_000): Promise<Exit> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const exit = await this.exited;
    clearTimeout(timer);
    return exit;
  }
}

/** Start a backend and wait until every worker listens (the primary's ready line). */
export async function startBackend(
  entry: Entry,
  env: NodeJS.ProcessEnv,
  options: { detached?: boolean } = {},
): Promise<BackendProcess> {
  const backend = new BackendProcess(entry, env, [], options);
  await backend.waitFor(/workers listening on http|KernelCI Dashboard API mirror: /);
  return backend;
}

/** Run an entry point to its end (start-up failures, the traffic generator). */
export async function runToExit(
  entry: Entry,
  env: NodeJS.ProcessEnv,
  args: string[] = [],
): Promise<Exit & { output: string }> {
  const child = new BackendProcess(entry, env, args);
  const exit = await child.exit();
  return { ...exit, output: child.output };
}
