/**
 * A copy of better-sqlite3 whose native module cannot load, for the tests of what users are told then
 * (issue 14, item 5). The shared node_modules is never touched: the JavaScript part of the installed
 * better-sqlite3 (and `bindings`, which locates the .node file) is copied into a temp dir, and a child
 * process started with `brokenDriverArgs()` resolves `better-sqlite3` there through a module hook.
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REGISTER = fileURLToPath(new URL('./broken-driver-register.mjs', import.meta.url));

/**
 * Build the broken copy; `from` is a file of the package whose better-sqlite3 is copied (its
 * `import.meta.url`). Returns the temp root (remove it when done).
 */
export function makeBrokenDriver(from, kind) {
  const root = mkdtempSync(join(tmpdir(), 'kci-broken-driver-'));
  const modules = join(root, 'node_modules');
  const requireFrom = createRequire(from);
  const driver = dirname(realpathSync(requireFrom.resolve('better-sqlite3/package.json')));
  const requireInDriver = createRequire(join(driver, 'package.json'));
  const bindings = dirname(realpathSync(requireInDriver.resolve('bindings/package.json')));
  const requireInBindings = createRequire(join(bindings, 'package.json'));
  const uriToPath = dirname(realpathSync(requireInBindings.resolve('file-uri-to-path/package.json')));
  cpSync(join(driver, 'lib'), join(modules, 'better-sqlite3', 'lib'), { recursive: true });
  cpSync(join(driver, 'package.json'), join(modules, 'better-sqlite3', 'package.json'));
  cpSync(bindings, join(modules, 'bindings'), { recursive: true, dereference: true });
  cpSync(uriToPath, join(modules, 'file-uri-to-path'), { recursive: true, dereference: true });
  if (kind === 'newer-node') {
    const manifest = JSON.parse(readFileSync(join(modules, 'better-sqlite3', 'package.json'), 'utf8'));
    manifest.engines = { node: '>=99' };
    writeFileSync(join(modules, 'better-sqlite3', 'package.json'), JSON.stringify(manifest));
  }
  if (kind === 'garbage') {
    const release = join(modules, 'better-sqlite3', 'build', 'Release');
    mkdirSync(release, { recursive: true });
    writeFileSync(join(release, 'better_sqlite3.node'), 'not a shared library\n');
  }
  return root;
}

/** Node arguments and environment that make a child process load the broken copy of better-sqlite3. */
export function brokenDriverArgs(root) {
  return {
    execArgv: ['--import', REGISTER],
    env: { KCI_BROKEN_DRIVER: join(root, 'node_modules', 'better-sqlite3', 'lib', 'index.js') },
  };
}
