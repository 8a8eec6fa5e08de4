/**
 * The aggregator as a supervised child process of the cluster primary: it serves the merged metrics on
 * PROMETHEUS_METRICS_PORT, is restarted with backoff when it dies, and is stopped last on shutdown (after
 * the workers flushed their final values).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { RestartBackoff } from './backoff.js';

/** The aggregator's exit code for an invalid environment variable: restarting cannot help. */
const CONFIG_EXIT_CODE = 2;
const STOP_GRACE_MS = 5_000;

export interface AggregatorProcess {
  /**
   * No more restarts from now on; the running child keeps serving until `stop()`. Ctrl+C signals the whole
   * process group, so the child may stop by itself while the workers still drain: it must stay stopped.
   */
  beginShutdown(): void;
  /** SIGTERM, then SIGKILL after a grace period; resolves when the child is gone. */
  stop(): Promise<void>;
}

/**
 * Fork `mainPath` (the aggregator's dist/main.js) with this process's environment and keep it running.
 * `onFatal` is called when it rejects its configuration (exit code 2), which a restart would not fix.
 *
 * @example
 * const aggregator = superviseAggregator(AGGREGATOR_MAIN, (code) => shutdown(code));
 * await aggregator.stop();
 */
export function superviseAggregator(mainPath: string, onFatal: (exitCode: number) => void): AggregatorProcess {
  const backoff = new RestartBackoff();
  let child: ChildProcess | undefined;
  let restartTimer: NodeJS.Timeout | undefined;
  let stopping = false;

  const spawn = () => {
    backoff.started();
    const current = fork(mainPath, [], { env: process.env }); // inherits stdout/stderr
    child = current;
    current.once('exit', (code, signal) => {
      if (child === current) child = undefined;
      if (stopping) return;
      if (code === CONFIG_EXIT_CODE) {
        console.error('[backend] the aggregator rejected its configuration (exit code 2); stopping');
        onFatal(CONFIG_EXIT_CODE);
        return;
      }
      const delay = backoff.crashed();
      console.error(`[backend] aggregator exited (${signal ?? `code ${code}`}); restarting in ${delay} ms`);
      restartTimer = setTimeout(spawn, delay);
    });
  };
  spawn();

  return {
    beginShutdown() {
      stopping = true;
      clearTimeout(restartTimer);
    },
    stop() {
      stopping = true;
      clearTimeout(restartTimer);
      const current = child;
      if (!current || current.exitCode !== null || current.signalCode !== null) return Promise.resolve();
      return new Promise((resolve) => {
        const kill = setTimeout(() => current.kill('SIGKILL'), STOP_GRACE_MS);
        current.once('exit', () => {
          clearTimeout(kill);
          resolve();
        });
        current.kill('SIGTERM');
      });
    },
  };
}
