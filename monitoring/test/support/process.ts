import type { ChildProcess } from 'node:child_process';

/** Stop a child politely (SIGTERM), forcefully after `graceMs`; resolves once it has exited. */
export async function terminate(child: ChildProcess, exited: Promise<void>, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}
