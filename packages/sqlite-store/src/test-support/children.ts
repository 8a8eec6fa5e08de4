import { type ChildProcess, type ForkOptions, fork, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The fixtures directory (plain .mjs files that import the built package). */
export const FIXTURES = fileURLToPath(new URL('.', import.meta.url));

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A fixture process, driven over IPC. */
export interface Child {
  proc: ChildProcess;
  pid: number;
  /** What it has written to stderr so far (the store's log lines: "WARN ..." / "INFO ..."). */
  stderr(): string;
  /** Run one operation of worker.mjs and wait for its result. */
  call<T = unknown>(op: string, args?: Record<string, unknown>): Promise<T>;
  /** Send an operation without waiting (exit, end). */
  send(op: string, args?: Record<string, unknown>): void;
  /** Resolves when the process has exited and was reaped (its pid no longer names it). */
  exited: Promise<Exit>;
  /** The `ready` message: pid and the results of the script ops. */
  ready: { pid: number; results: unknown[] };
}

const running = new Set<ChildProcess>();

/** Start a fixture with an IPC channel; resolves once it sent `{ ready: true }`. */
export async function startFixture(file: string, args: string[], options: ForkOptions = {}): Promise<Child> {
  const proc = fork(join(FIXTURES, file), args, { stdio: ['ignore', 'pipe', 'pipe', 'ipc'], ...options });
  running.add(proc);
  let err = '';
  proc.stderr?.setEncoding('utf8').on('data', (d: string) => (err += d));
  proc.stdout?.resume();
  const exited = new Promise<Exit>((resolve) =>
    proc.once('exit', (code, signal) => {
      running.delete(proc);
      resolve({ code, signal });
    }),
  );
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  let ready: Child['ready'] | undefined;
  const readyPromise = new Promise<void>((resolve, reject) => {
    proc.on(
      'message',
      (msg: { ready?: boolean; id?: number; result?: unknown; error?: string; pid: number; results: unknown[] }) => {
        if (msg.ready) {
          ready = { pid: msg.pid, results: msg.results };
          resolve();
          return;
        }
        const p = pending.get(msg.id ?? -1);
        pending.delete(msg.id ?? -1);
        if (msg.error !== undefined) p?.reject(new Error(msg.error));
        else p?.resolve(msg.result);
      },
    );
    void exited.then((e) => {
      const why = new Error(`${file} exited (${e.code ?? e.signal}) ${err}`);
      reject(why);
      for (const p of pending.values()) p.reject(why);
    });
  });
  await readyPromise;
  const send = (op: string, args: Record<string, unknown> = {}) => {
    if (proc.connected) proc.send({ id: 0, op, ...args });
  };
  return {
    proc,
    pid: proc.pid as number,
    stderr: () => err,
    ready: ready as Child['ready'],
    exited,
    send,
    call<T>(op: string, args: Record<string, unknown> = {}) {
      return new Promise<T>((resolve, reject) => {
        const id = nextId++;
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
        proc.send({ id, op, ...args });
      });
    },
  };
}

/** Run a fixture that needs no IPC to its natural end; resolves with its exit and its stderr. */
export async function runFixture(file: string, args: string[]): Promise<Exit & { stderr: string }> {
  const proc = spawn(process.execPath, [join(FIXTURES, file), ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  running.add(proc);
  let stderr = '';
  proc.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const [code, signal] = (await once(proc, 'close')) as [number | null, NodeJS.Signals | null];
  running.delete(proc);
  return { code, signal, stderr };
}

export interface WorkerConfig {
  dir: string;
  flushIntervalMs?: number;
  defaultMetrics?: boolean;
  script?: Array<Record<string, unknown>>;
  afterReady?: 'end' | 'exit';
}

/** Start test-support/worker.mjs: a prom-client registry attached to the store in `dir`. */
export function startWorker(config: WorkerConfig, options: ForkOptions = {}): Promise<Child> {
  return startFixture('worker.mjs', [JSON.stringify(config)], options);
}

/** SIGKILL the child and wait until it is reaped, so that the store sees its process gone. */
export async function killHard(child: Child): Promise<Exit> {
  child.proc.kill('SIGKILL');
  return child.exited;
}

/** Kill every fixture still running (afterEach), so that a failed test leaves no process behind. */
export async function killAll(): Promise<void> {
  const procs = [...running];
  for (const p of procs) p.kill('SIGKILL');
  await Promise.all(procs.map((p) => (p.exitCode === null && p.signalCode === null ? once(p, 'exit') : undefined)));
}

const dirs: string[] = [];

/** A fresh temp directory; the store directory inside it does not exist yet (the store creates it). */
export function tempDir(): { root: string; dir: string } {
  const root = mkdtempSync(join(tmpdir(), 'kci-store-test-'));
  dirs.push(root);
  return { root, dir: join(root, 'store') };
}

/** Remove every temp directory made by tempDir() (afterAll). */
export function removeTempDirs(): void {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** A logger that keeps what the store reports, for tests that assert "logged once". */
export function captureLogger(): {
  warnings: string[];
  infos: string[];
  logger: { warn(m: string): void; info(m: string): void };
} {
  const warnings: string[] = [];
  const infos: string[] = [];
  return { warnings, infos, logger: { warn: (m) => warnings.push(m), info: (m) => infos.push(m) } };
}
