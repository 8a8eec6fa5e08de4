/** Start-up failures of the real backend: one line naming the problem, and the documented exit code. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanEnv, runToExit } from './test-support/backend.js';

const dir = mkdtempSync(join(tmpdir(), 'kci-backend-startup-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('an invalid variable stops the start with exit code 2 and names the variable and the value', () => {
  it.each([
    ['main', { WEB_CONCURRENCY: '0' }, 'backend: Invalid WEB_CONCURRENCY "0": expected an integer 1-64'],
    ['main', { BACKEND_FRAMEWORK: 'fastify' }, 'backend: Invalid BACKEND_FRAMEWORK "fastify": expected koa or express'],
    ['main', { BACKEND_PORT: 'http' }, 'backend: Invalid BACKEND_PORT "http": expected an integer 0-65535'],
    [
      'demo',
      { PROMETHEUS_METRICS_FLUSH_INTERVAL_MS: 'soon' },
      'backend: Invalid PROMETHEUS_METRICS_FLUSH_INTERVAL_MS "soon"',
    ],
    [
      'demo',
      { PROMETHEUS_METRICS_AUTH_TOKEN: 't', PROMETHEUS_METRICS_BASIC_AUTH_USER: 'u' },
      'backend: Invalid PROMETHEUS_METRICS_AUTH_TOKEN',
    ],
  ] as const)('dist/%s.js with %o', async (entry, env, message) => {
    const { code, output } = await runToExit(entry, cleanEnv({ ...env, PROMETHEUS_MULTIPROC_DIR: dir }));
    expect(output).toContain(message);
    expect(output).not.toContain('listening');
    expect(code).toBe(2);
  });
});

describe('other start-up failures exit 1 with a clear line', () => {
  it('a PROMETHEUS_MULTIPROC_DIR that cannot hold the store', async () => {
    const file = join(dir, 'not-a-directory');
    writeFileSync(file, 'x');
    const { code, output } = await runToExit('demo', cleanEnv({ PROMETHEUS_MULTIPROC_DIR: file }));
    expect(output).toContain(`backend: cannot open the metrics store in PROMETHEUS_MULTIPROC_DIR=${file}`);
    expect(output).not.toContain('listening');
    expect(code).toBe(1);
  });

  it('a BACKEND_PORT that is already in use', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as { port: number };
    try {
      const { code, output } = await runToExit('main', cleanEnv({ BACKEND_PORT: String(port), WEB_CONCURRENCY: '1' }));
      expect(output).toContain(`cannot listen on 127.0.0.1:${port}: EADDRINUSE`);
      expect(output).toContain('exited during start-up');
      expect(code).toBe(1);
    } finally {
      taken.close();
    }
  });
});
