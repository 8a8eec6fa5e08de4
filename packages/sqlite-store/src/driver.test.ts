import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type BrokenDriverKind, brokenDriverArgs, makeBrokenDriver } from '@kci-metrics/test-support/broken-driver';
import { afterAll, describe, expect, it } from 'vitest';
import { driverLoadError, nodeTooOld } from './driver.js';
import { removeTempDirs, tempDir } from './test-support/children.js';

afterAll(removeTempDirs);

const APP = fileURLToPath(new URL('./test-support/app.mjs', import.meta.url));

/** Run the app fixture with a better-sqlite3 whose native module really fails to load. */
async function runWithBrokenDriver(kind: BrokenDriverKind): Promise<{ code: number | null; out: string; err: string }> {
  const root = makeBrokenDriver(import.meta.url, kind);
  try {
    const { execArgv, env } = brokenDriverArgs(root);
    const child = spawn(process.execPath, [...execArgv, APP, tempDir().dir], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    return { code, out, err };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

describe('better-sqlite3 cannot load its native module', () => {
  it('missing build (pnpm blocked the install script): one log line saying to approve the build, the app keeps running', async () => {
    const { code, out, err } = await runWithBrokenDriver('missing');
    expect(out).toBe('flush false\nflush false\nstill running\n');
    expect(code).toBe(0);
    const lines = err.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\[kci-metrics\] cannot write metrics store .*kci-metrics\.sqlite \(/);
    expect(lines[0]).toContain('Could not locate the bindings file');
    expect(lines[0]).toContain('pnpm approve-builds');
    expect(lines[0]).toContain('allowBuilds: { better-sqlite3: true }');
    expect(lines[0]).toContain('npm rebuild better-sqlite3');
  });

  it('a file that is no loadable module: one log line saying to rebuild for this Node.js', async () => {
    const { code, out, err } = await runWithBrokenDriver('garbage');
    expect(out).toBe('flush false\nflush false\nstill running\n');
    expect(code).toBe(0);
    const lines = err.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`cannot be loaded by Node.js ${process.version}`);
    expect(lines[0]).toContain('npm rebuild better-sqlite3');
  });

  it('NODE_MODULE_VERSION mismatch (Node upgraded without a reinstall): says which versions and to rebuild', () => {
    // The loader's message, verbatim from better-sqlite3 12.11.1 built by Node 22.23 and loaded by Node 20.20.
    const loader = Object.assign(
      new Error(
        "The module '/app/node_modules/better-sqlite3/build/Release/better_sqlite3.node'\n" +
          'was compiled against a different Node.js version using\nNODE_MODULE_VERSION 127. This version of Node.js requires\n' +
          'NODE_MODULE_VERSION 115. Please try re-compiling or re-installing\nthe module (for instance, using `npm rebuild` or `npm install`).',
      ),
      { code: 'ERR_DLOPEN_FAILED' },
    );
    const error = driverLoadError(loader);
    expect(error?.code).toBe('ERR_DLOPEN_FAILED');
    expect(error?.message).toContain(
      `NODE_MODULE_VERSION 127; this is Node.js ${process.version}, NODE_MODULE_VERSION ${process.versions.modules}`,
    );
    expect(error?.message).toContain('npm rebuild better-sqlite3');
  });

  it('other errors of new Database() (a bad file, permissions) are not mistaken for a driver problem', () => {
    expect(
      driverLoadError(Object.assign(new Error('file is not a database'), { code: 'SQLITE_NOTADB' })),
    ).toBeUndefined();
    expect(
      driverLoadError(Object.assign(new Error('unable to open database file'), { code: 'SQLITE_CANTOPEN' })),
    ).toBeUndefined();
  });
});

describe('a better-sqlite3 that needs a newer Node.js (13.x on Node 20 crashes with SIGSEGV)', () => {
  it('is refused before it is loaded: one log line saying which version to install, the app keeps running', async () => {
    const { code, out, err } = await runWithBrokenDriver('newer-node');
    expect(out).toBe('flush false\nflush false\nstill running\n');
    expect(code).toBe(0);
    const lines = err.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(
      `needs Node.js >=99 and would crash Node.js ${process.version}: install better-sqlite3 12`,
    );
  });

  it.each([
    [{ version: '13.2.0', engines: { node: '>=22' } }, '20.20.2', true],
    [{ version: '13.2.0', engines: { node: '>=22' } }, '22.0.0', false],
    [{ version: '13.2.0', engines: { node: '>=22' } }, '24.1.0', false],
    [{ version: '12.11.1', engines: { node: '20.x || 22.x || 23.x || 24.x || 25.x || 26.x' } }, '20.20.2', false],
    // newer than the list names: not refused, it may well work
    [{ version: '12.11.1', engines: { node: '20.x || 22.x || 23.x || 24.x || 25.x || 26.x' } }, '27.0.0', false],
    [{ version: '12.11.1', engines: { node: '20.x || 22.x' } }, '18.20.0', true],
    [{ version: '1.0.0' }, '20.20.2', false],
    [{ version: '1.0.0', engines: { node: '*' } }, '20.20.2', false],
  ])('%j on Node %s refused: %s', (manifest: { version: string; engines?: { node: string } }, node, refused) => {
    const error = nodeTooOld(manifest, node);
    expect(error !== undefined).toBe(refused);
    if (error) {
      expect(error.message).toContain(
        `better-sqlite3 ${manifest.version} needs Node.js ${manifest.engines?.node} and would crash Node.js v${node}`,
      );
      expect(error.message).toContain('"overrides": { "better-sqlite3": "^12.4.0" }');
    }
  });
});
