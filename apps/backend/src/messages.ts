/** The messages the cluster primary and its workers exchange over the IPC channel. */

/** Worker to primary: the server is accepting connections on this port. */
export interface ListeningMessage {
  type: 'kci-backend:listening';
  port: number;
}

/** Primary to worker: stop accepting, finish in-flight requests, flush metrics, exit 0. */
export interface ShutdownMessage {
  type: 'kci-backend:shutdown';
}

/**
 * The environment variable through which the primary hands its validated configuration to the workers, so
 * that a worker imports no configuration code (and, with metrics off, no metrics code at all).
 */
export const WORKER_CONFIG_ENV = 'KCI_BACKEND_WORKER_CONFIG';

export const LISTENING = 'kci-backend:listening';
export const SHUTDOWN = 'kci-backend:shutdown';

export function isMessage<T extends { type: string }>(value: unknown, type: T['type']): value is T {
  return typeof value === 'object' && value !== null && (value as { type?: unknown }).type === type;
}
