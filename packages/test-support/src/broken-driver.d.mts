/**
 * - `missing`: no compiled module at all, as after pnpm blocked the build script ("Could not locate the
 *   bindings file").
 * - `garbage`: a build/Release/better_sqlite3.node that is not a loadable library (ERR_DLOPEN_FAILED), as
 *   when the file was built for another platform or is truncated.
 * - `newer-node`: a package whose `engines` asks for Node.js >=99 (as better-sqlite3 13 asks for >=22, and
 *   crashes Node 20 when loaded); the check must refuse it before loading anything.
 */
export type BrokenDriverKind = 'missing' | 'garbage' | 'newer-node';

/**
 * Build a copy of better-sqlite3 that cannot load its native module; `from` is a file (its
 * `import.meta.url`) of the package whose better-sqlite3 is copied. Returns the temp root (remove it when done).
 */
export function makeBrokenDriver(from: string, kind: BrokenDriverKind): string;

/** Node arguments and environment that make a child process load the broken copy of better-sqlite3. */
export function brokenDriverArgs(root: string): { execArgv: string[]; env: Record<string, string> };
