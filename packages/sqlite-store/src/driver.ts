/**
 * What to do when better-sqlite3's native module cannot be loaded (issue 14, item 5). The loader's own
 * message ("Could not locate the bindings file", "compiled against a different Node.js version") names the
 * symptom; users need the remedy: the build script that pnpm blocked by default, or a rebuild for the Node.js
 * version that now runs the app.
 */
export class DriverLoadError extends Error {
  override readonly name = 'DriverLoadError';
  /** The loader's code when it had one (`ERR_DLOPEN_FAILED`), else `DRIVER_LOAD_FAILED`. */
  readonly code: string;

  constructor(message: string, cause: unknown) {
    super(message, { cause });
    const code = (cause as { code?: unknown } | undefined)?.code;
    this.code = typeof code === 'string' ? code : 'DRIVER_LOAD_FAILED';
  }
}

const REBUILD =
  'rebuild it for the Node.js that runs this process (`npm rebuild better-sqlite3`, `pnpm rebuild better-sqlite3`, or delete node_modules and reinstall)';
const APPROVE =
  'its install script did not run; pnpm skips build scripts it was not told to allow: run `pnpm approve-builds` (or add `allowBuilds: { better-sqlite3: true }` to pnpm-workspace.yaml), then `pnpm rebuild better-sqlite3`; with npm, `npm rebuild better-sqlite3`';

/**
 * A DriverLoadError when the installed better-sqlite3 needs a newer Node.js than this one. better-sqlite3 13
 * (`engines: >=22`) loaded by Node 20 crashes the whole process with SIGSEGV instead of throwing, and pnpm
 * installs it on Node 20 when a range allows it, so the store checks before the first load. Only a Node.js
 * older than every range's lower bound is refused: a newer one than the list names may well work.
 */
export function nodeTooOld(
  manifest: { version?: unknown; engines?: { node?: unknown } },
  nodeVersion: string = process.versions.node,
): DriverLoadError | undefined {
  const range = manifest.engines?.node;
  if (typeof range !== 'string') return undefined;
  const floors = range.split('||').map((part) => /^\s*(?:>=?\s*|\^|~)?v?(\d+)/.exec(part)?.[1]);
  if (floors.some((floor) => floor === undefined)) return undefined; // a form this check does not know
  const lowest = Math.min(...floors.map(Number));
  const major = Number(nodeVersion.split('.')[0]);
  if (major >= lowest) return undefined;
  return new DriverLoadError(
    `better-sqlite3 ${String(manifest.version)} needs Node.js ${range} and would crash Node.js v${nodeVersion}: ` +
      'install better-sqlite3 12, which supports Node.js 20 (npm: `"overrides": { "better-sqlite3": "^12.4.0" }` in ' +
      'package.json; pnpm: `overrides: { better-sqlite3: ^12.4.0 }` in pnpm-workspace.yaml), or upgrade Node.js',
    undefined,
  );
}

/**
 * A DriverLoadError saying what to do when `error` (thrown by `new Database()`) means the native module could
 * not be loaded; undefined for any other error (a bad file, permissions, a lock).
 */
export function driverLoadError(error: unknown): DriverLoadError | undefined {
  if (error instanceof DriverLoadError) return error;
  if (!(error instanceof Error)) return undefined;
  const first = (error.message.split('\n', 1)[0] ?? '').replace(/\s*Tried:$/, '').trim();
  const node = `Node.js ${process.version}, NODE_MODULE_VERSION ${process.versions.modules}`;
  if (error.message.includes('Could not locate the bindings file')) {
    return new DriverLoadError(`better-sqlite3 has no compiled native module (${first}): ${APPROVE}`, error);
  }
  const abi = /NODE_MODULE_VERSION (\d+)\. This version of Node\.js requires\s+NODE_MODULE_VERSION (\d+)/.exec(
    error.message,
  );
  if (abi) {
    return new DriverLoadError(
      `better-sqlite3 was compiled for another Node.js (NODE_MODULE_VERSION ${abi[1]}; this is ${node}): ${REBUILD}`,
      error,
    );
  }
  const code = (error as { code?: unknown }).code;
  if (code === 'ERR_DLOPEN_FAILED' || /better_sqlite3\.node/.test(error.message)) {
    return new DriverLoadError(
      `better-sqlite3's native module cannot be loaded by ${node} (${first}): ${REBUILD}`,
      error,
    );
  }
  return undefined;
}
