import { spawn } from 'node:child_process';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findBinary } from './binaries.js';
import { stopper } from './process.js';
import { waitUntil } from './wait.js';

export interface PrometheusOptions {
  /** The prometheus.yml text. Relative paths in it (rule_files, file_sd_configs) resolve in the work dir. */
  config: string;
  /** Files written beside the config before start: name -> contents (rule files, file_sd target lists). */
  files?: Record<string, string>;
  /** Extra command-line flags, e.g. `--query.lookback-delta=30s`. */
  args?: readonly string[];
  /** Default: `findBinary('prometheus')`. */
  binary?: string;
  /** How long start-up may take before it fails with Prometheus's log. Default 30 s. */
  startTimeoutMs?: number;
}

/** Prometheus's HTTP API envelope (https://prometheus.io/docs/prometheus/latest/querying/api/). */
export interface ApiResponse<T = unknown> {
  status: 'success' | 'error';
  data?: T;
  errorType?: string;
  error?: string;
  warnings?: string[];
}

export interface QueryData {
  resultType: 'vector' | 'matrix' | 'scalar' | 'string';
  result: unknown;
}

/** One element of an instant vector (or a scalar, with no labels). */
export interface Sample {
  labels: Record<string, string>;
  value: number;
}

export interface ActiveTarget {
  scrapeUrl: string;
  health: 'up' | 'down' | 'unknown';
  lastError: string;
  labels: Record<string, string>;
}

export interface RunningPrometheus {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** The work dir holding the config, the extra files and the TSDB. Removed by stop(). */
  readonly dir: string;
  /** GET an API path (`/api/v1/...`) and return the envelope, also for errors (status 400/422). */
  api<T = unknown>(path: string, params?: Record<string, string>): Promise<ApiResponse<T>>;
  /** Instant query through `/api/v1/query`; `time` in Unix seconds (default: now). Never throws for bad PromQL. */
  query(expr: string, time?: number): Promise<ApiResponse<QueryData>>;
  /** Instant query that must succeed: the samples, or an error naming the expression and Prometheus's answer. */
  instant(expr: string, time?: number): Promise<Sample[]>;
  /** The active scrape targets and their health. */
  targets(): Promise<ActiveTarget[]>;
  /** Wait until `count` active targets exist and all are up; returns them. */
  waitForTargets(count: number, timeoutMs?: number): Promise<ActiveTarget[]>;
  /** Replace a file in the work dir atomically (file_sd picks up changes without ever reading half a file). */
  writeFile(name: string, contents: string): Promise<void>;
  /** Re-read the configuration (`POST /-/reload`; the server runs with --web.enable-lifecycle). */
  reload(): Promise<void>;
  /** Everything Prometheus logged so far (for failure messages). */
  logs(): string;
  /** SIGTERM (SIGKILL after 10 s), then remove the work dir. Safe to call twice. */
  stop(): Promise<void>;
}

const LISTENING = /msg="Listening on" address=(\S+)/;
const MAX_LOG = 256 * 1024;

/**
 * Start a real Prometheus on a free loopback port (it binds 127.0.0.1:0 and reports the port it got),
 * with its own temporary TSDB, and wait until it is ready.
 *
 * @example
 * const prom = await startPrometheus({ config: 'global: {scrape_interval: 1s}\nscrape_configs: []\n' });
 * try {
 *   expect((await prom.query('sum(rate(http_request_duration_seconds_count[1m]))')).status).toBe('success');
 * } finally {
 *   await prom.stop();
 * }
 */
export async function startPrometheus(options: PrometheusOptions): Promise<RunningPrometheus> {
  const binary = options.binary ?? findBinary('prometheus');
  if (!binary) throw new Error('prometheus is not installed (Debian package "prometheus")');
  const dir = await mkdtemp(join(tmpdir(), 'kci-prometheus-'));
  await writeFile(join(dir, 'prometheus.yml'), options.config);
  for (const [name, contents] of Object.entries(options.files ?? {})) await writeFile(join(dir, name), contents);

  const child = spawn(
    binary,
    [
      '--config.file=prometheus.yml',
      `--storage.tsdb.path=${join(dir, 'data')}`,
      '--web.listen-address=127.0.0.1:0',
      '--web.enable-lifecycle',
      ...(options.args ?? []),
    ],
    { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  const append = (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-MAX_LOG);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const stop = stopper(child, 10_000, () => rm(dir, { recursive: true, force: true }));

  try {
    const address = await waitUntil(
      () => {
        if (child.exitCode !== null) throw new Error(`prometheus exited with code ${child.exitCode}`);
        return LISTENING.exec(log)?.[1];
      },
      { what: 'prometheus to listen', timeoutMs: options.startTimeoutMs ?? 30_000, intervalMs: 50 },
    );
    const url = `http://${address}`;
    await waitUntil(async () => (await fetch(`${url}/-/ready`)).ok, {
      what: 'prometheus to be ready',
      timeoutMs: options.startTimeoutMs ?? 30_000,
      intervalMs: 50,
    });
    return makeHandle(url, dir, () => log, stop);
  } catch (error) {
    await stop();
    throw new Error(`${(error as Error).message}\n--- prometheus log ---\n${log}`);
  }
}

function makeHandle(url: string, dir: string, logs: () => string, stop: () => Promise<void>): RunningPrometheus {
  const api = async <T>(path: string, params: Record<string, string> = {}): Promise<ApiResponse<T>> => {
    const response = await fetch(`${url}${path}?${new URLSearchParams(params)}`);
    const text = await response.text();
    try {
      return JSON.parse(text) as ApiResponse<T>;
    } catch {
      throw new Error(`GET ${path} answered ${response.status} with a body that is not JSON: ${text.slice(0, 200)}`);
    }
  };
  const query = (expr: string, time?: number) =>
    api<QueryData>('/api/v1/query', time === undefined ? { query: expr } : { query: expr, time: String(time) });
  const targets = async () => {
    const answer = await api<{ activeTargets: ActiveTarget[] }>('/api/v1/targets', { state: 'active' });
    return answer.data?.activeTargets ?? [];
  };
  return {
    url,
    dir,
    api,
    query,
    async instant(expr, time) {
      const answer = await query(expr, time);
      if (answer.status !== 'success' || !answer.data) {
        throw new Error(`Query failed: ${expr}\n${answer.errorType}: ${answer.error}`);
      }
      return toSamples(answer.data);
    },
    targets,
    waitForTargets(count, timeoutMs = 30_000) {
      return waitUntil(
        async () => {
          const active = await targets();
          if (active.length === count && active.every((t) => t.health === 'up')) return active;
          throw new Error(
            JSON.stringify(active.map((t) => ({ url: t.scrapeUrl, health: t.health, error: t.lastError }))),
          );
        },
        { what: `${count} scrape targets up`, timeoutMs, intervalMs: 200 },
      );
    },
    async writeFile(name, contents) {
      const tmp = join(dir, `.${name}.tmp`);
      await writeFile(tmp, contents);
      await rename(tmp, join(dir, name));
    },
    async reload() {
      const response = await fetch(`${url}/-/reload`, { method: 'POST' });
      if (!response.ok) throw new Error(`reload failed (${response.status}): ${await response.text()}`);
    },
    logs,
    stop,
  };
}

/** An instant query's result as samples; a scalar becomes one sample without labels. */
function toSamples(data: QueryData): Sample[] {
  if (data.resultType === 'scalar') {
    const [, value] = data.result as [number, string];
    return [{ labels: {}, value: Number(value) }];
  }
  if (data.resultType !== 'vector') throw new Error(`Expected an instant vector, got a ${data.resultType}`);
  return (data.result as Array<{ metric: Record<string, string>; value: [number, string] }>).map((s) => ({
    labels: s.metric,
    value: Number(s.value[1]),
  }));
}
