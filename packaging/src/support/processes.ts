/**
 * The processes of an installed app: plain worker processes running a README's code, and the installed
 * `kci-metrics-aggregator` command. Every child is killed when the test process exits, whatever happened.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { userEnv } from './run.js';

export interface Child {
  child: ChildProcess;
  /** Everything it printed so far, for assertion messages. */
  output: () => string;
  stop: (signal?: NodeJS.Signals) => Promise<void>;
}

const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

export function start(command: string, args: string[], cwd: string, env: Record<string, string>): Child {
  const child = spawn(command, args, { cwd, env: userEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  child.once('error', (error) => {
    out += `\n[spawn error: ${error.message}]`;
  });
  child.stdout?.on('data', (d) => {
    out += d;
  });
  child.stderr?.on('data', (d) => {
    out += d;
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('exit', () => children.delete(child));
  return {
    child,
    output: () => out,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Waits for a line of the child's output that matches, or fails with what it printed (or how it ended). */
export async function waitForOutput(c: Child, pattern: RegExp, timeoutMs = 30_000): Promise<RegExpExecArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = pattern.exec(c.output());
    if (m) return m;
    if (c.child.exitCode !== null || c.child.signalCode !== null) {
      throw new Error(`process exited (${c.child.exitCode ?? c.child.signalCode}) before ${pattern}:\n${c.output()}`);
    }
    if (Date.now() > deadline) throw new Error(`no ${pattern} within ${timeoutMs} ms:\n${c.output()}`);
    await sleep(50);
  }
}

/** A loopback port that was free a moment ago (the aggregator takes a fixed port, not 0). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

/** A worker: `node <file>` in the app; the wrapper prints `listening <port>`. */
export async function startWorker(
  appDir: string,
  file: string,
  env: Record<string, string>,
): Promise<Child & { port: number }> {
  // PORT=0: a README block that listens on PORT takes a free port (the wrapper reports it).
  const c = start(process.execPath, [file], appDir, { PORT: '0', ...env });
  const m = await waitForOutput(c, /listening (\d+)/);
  return { ...c, port: Number(m[1]) };
}

/** The installed `kci-metrics-aggregator` command, on a free loopback port; resolves once it answers. */
export async function startAggregator(appDir: string, env: Record<string, string>): Promise<Child & { url: string }> {
  const port = await freePort();
  const bin = join(appDir, 'node_modules', '.bin', 'kci-metrics-aggregator');
  if (!existsSync(bin)) throw new Error(`the installed packages provide no kci-metrics-aggregator command (${bin})`);
  const c = start(bin, [], appDir, {
    ...env,
    PROMETHEUS_METRICS_PORT: String(port),
    PROMETHEUS_METRICS_HOST: '127.0.0.1',
  });
  const url = `http://127.0.0.1:${port}/metrics/`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (c.child.exitCode !== null || c.child.signalCode !== null) {
      throw new Error(`${bin} exited (${c.child.exitCode ?? c.child.signalCode}):\n${c.output()}`);
    }
    try {
      if ((await fetch(url)).ok) return { ...c, url };
    } catch {}
    if (Date.now() > deadline) throw new Error(`${bin} did not answer at ${url}:\n${c.output()}`);
    await sleep(100);
  }
}

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a Prometheus text exposition (the names and labels the tests read; no escapes needed). */
export function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1] ?? ''] = l[2] ?? '';
    samples.push({ name: m[1] ?? '', labels, value: Number(m[3]) });
  }
  return samples;
}

/** The merged samples the aggregator serves now. */
export async function scrape(url: string): Promise<Sample[]> {
  const res = await fetch(url);
  const text = await res.text();
  if (!res.ok) throw new Error(`${url}: ${res.status} ${text}`);
  return parseExposition(text);
}

/** Sum of one metric's samples, optionally only those whose labels match. */
export function total(samples: Sample[], name: string, where: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(where).every(([k, v]) => s.labels[k] === v))
    .reduce((n, s) => n + s.value, 0);
}

/** Sends `count` GET requests to `paths(i)`, spread round-robin over the ports; every answer must be 200. */
export async function sendRequests(ports: number[], count: number, path: (i: number) => string): Promise<void> {
  const concurrency = 8;
  let next = 0;
  const failures: string[] = [];
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        const url = `http://127.0.0.1:${ports[i % ports.length]}${path(i)}`;
        const res = await fetch(url);
        await res.arrayBuffer();
        if (res.status !== 200) failures.push(`${url}: ${res.status}`);
      }
    }),
  );
  if (failures.length > 0)
    throw new Error(`${failures.length} requests failed, e.g. ${failures.slice(0, 3).join('; ')}`);
}
