import type { ChildProcess } from 'node:child_process';

/**
 * The stop() of a child a test started: SIGTERM, SIGKILL after `graceMs`, then `cleanup` (its work dir).
 * Calling it again does nothing. Until then, a test run that crashes still kills the child when vitest's
 * process exits, so nothing is left holding ports.
 *
 * @example
 * const stop = stopper(child, 10_000, () => rm(dir, { recursive: true, force: true }));
 */
export function stopper(child: ChildProcess, graceMs: number, cleanup: () => Promise<void>): () => Promise<void> {
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  let stopped = false;
  return async () => {
    if (stopped) return;
    stopped = true;
    process.off('exit', killOnExit);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    }
    await cleanup();
  };
}
