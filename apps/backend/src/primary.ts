/**
 * The cluster primary: validates the configuration, prepares the metrics store, runs the aggregator child
 * and WEB_CONCURRENCY workers, replaces crashed workers (with backoff) and drains everything on SIGTERM.
 */
import cluster, { type Worker } from 'node:cluster';
import { fileURLToPath } from 'node:url';
import type { AggregatorProcess } from './aggregator-process.js';
import { RestartBackoff } from './backoff.js';
import { type BackendConfig, readBackendConfig } from './config.js';
import { isMessage, LISTENING, type ListeningMessage, SHUTDOWN, WORKER_CONFIG_ENV } from './messages.js';
import { loadMetricsConfig, type MetricsConfig } from './metrics-config.js';

/** What the primary reports once every worker accepts connections. */
export interface ReadyInfo {
  backend: BackendConfig;
  metrics: MetricsConfig;
  /** The port the workers share (the chosen one when BACKEND_PORT is 0). */
  port: number;
}

export interface PrimaryOptions {
  /** Called once, when all initial workers listen. Default: print one line. */
  onReady?: (info: ReadyInfo) => void;
}

const WORKER_MAIN = fileURLToPath(new URL('./worker.js', import.meta.url));
// After the drain timeout the workers cut their connections; this much later the primary kills them.
const KILL_MARGIN_MS = 2_000;

interface Slot {
  readonly id: number;
  readonly backoff: RestartBackoff;
  worker?: Worker;
  listening?: boolean;
  restart?: NodeJS.Timeout;
}

/**
 * Run the primary until SIGTERM/SIGINT. Throws a ConfigError (invalid variable) or a StartupError (the
 * store cannot be opened) before anything is started; entry points turn those into exit codes.
 *
 * @example
 * await runPrimary(process.env, { onReady: ({ port }) => console.log(`listening on ${port}`) });
 */
export async function runPrimary(env: NodeJS.ProcessEnv = process.env, options: PrimaryOptions = {}): Promise<void> {
  const backend = readBackendConfig(env);
  const metrics = loadMetricsConfig(env);
  const primary = new Primary(backend, metrics, options.onReady ?? printReady);
  if (metrics.enabled) {
    // Imported only with metrics on: a metrics-off primary opens no store and forks no aggregator (it reads
    // their variables either way, through their packages, so a bad one fails the start-up).
    const { prepareMetrics } = await import('./primary-metrics.js');
    primary.aggregator = prepareMetrics(env, metrics, (code) => primary.shutdown(code));
  }
  process.on('SIGTERM', () => primary.shutdown(0));
  process.on('SIGINT', () => primary.shutdown(0));
  primary.start();
}

class Primary {
  aggregator: AggregatorProcess | undefined;
  private readonly slots: Slot[];
  private ready = false;
  private shuttingDown = false;
  private forced = false;
  private exitCode = 0;
  private killTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly backend: BackendConfig,
    private readonly metrics: MetricsConfig,
    private readonly onReady: (info: ReadyInfo) => void,
  ) {
    this.slots = Array.from({ length: backend.workers }, (_, i) => ({ id: i + 1, backoff: new RestartBackoff() }));
  }

  start(): void {
    cluster.setupPrimary({ exec: WORKER_MAIN });
    for (const slot of this.slots) this.spawn(slot);
  }

  private spawn(slot: Slot): void {
    slot.restart = undefined;
    slot.listening = false;
    slot.backoff.started();
    const config = JSON.stringify({ backend: this.backend, metrics: this.metrics });
    const worker = cluster.fork({ [WORKER_CONFIG_ENV]: config });
    slot.worker = worker;
    worker.on('message', (message: unknown) => {
      if (isMessage<ListeningMessage>(message, LISTENING)) this.onListening(slot, worker, message.port);
    });
    worker.once('exit', (code, signal) => this.onExit(slot, worker, signal ?? `code ${code}`));
  }

  private onListening(slot: Slot, worker: Worker, port: number): void {
    slot.listening = true;
    console.log(`[backend] worker ${slot.id} (pid ${worker.process.pid}) listening on port ${port}`);
    if (this.shuttingDown) worker.send({ type: SHUTDOWN }); // it was still starting when the first one came
    if (!this.ready && this.slots.every((s) => s.listening)) {
      this.ready = true;
      this.onReady({ backend: this.backend, metrics: this.metrics, port });
    }
  }

  private onExit(slot: Slot, worker: Worker, how: string): void {
    const wasListening = slot.worker === worker && slot.listening;
    if (slot.worker === worker) slot.worker = undefined;
    if (this.shuttingDown) {
      this.finishIfDrained();
      return;
    }
    if (!this.ready && !wasListening) {
      // A worker that cannot even start (port in use, broken build) would crash-loop forever: stop instead.
      console.error(`[backend] worker ${slot.id} exited during start-up (${how}); stopping`);
      this.shutdown(1);
      return;
    }
    const delay = slot.backoff.crashed();
    console.error(
      `[backend] worker ${slot.id} (pid ${worker.process.pid}) exited (${how}); replacing it in ${delay} ms`,
    );
    slot.restart = setTimeout(() => this.spawn(slot), delay);
  }

  /** Drain: workers stop accepting, finish in flight, flush and exit; then the aggregator stops; then we exit. */
  shutdown(exitCode: number): void {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    this.exitCode = exitCode;
    console.log(`[backend] draining ${this.slots.filter((s) => s.worker).length} workers`);
    this.aggregator?.beginShutdown();
    for (const slot of this.slots) clearTimeout(slot.restart);
    this.killTimer = setTimeout(() => {
      this.forced = true;
      for (const slot of this.slots) slot.worker?.process.kill('SIGKILL');
    }, this.backend.drainTimeoutMs + KILL_MARGIN_MS);
    for (const slot of this.slots) {
      try {
        slot.worker?.send({ type: SHUTDOWN });
      } catch {
        slot.worker?.process.kill('SIGTERM'); // its channel is gone: the signal drains it too
      }
    }
    this.finishIfDrained();
  }

  private finishIfDrained(): void {
    if (this.slots.some((s) => s.worker)) return;
    clearTimeout(this.killTimer);
    // The workers flushed their last values; the aggregator goes last so it serves them until the end.
    void (this.aggregator?.stop() ?? Promise.resolve()).then(() => {
      console.log('[backend] stopped');
      process.exit(this.forced && this.exitCode === 0 ? 1 : this.exitCode);
    });
  }
}

function printReady({ backend, metrics, port }: ReadyInfo): void {
  const where = metrics.enabled ? `metrics on http://${metrics.host}:${metrics.port}/metrics/` : 'metrics disabled';
  console.log(
    `[backend] ${backend.workers} ${backend.framework} workers listening on http://${backend.host}:${port} (${where})`,
  );
}
