import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isAuthorized, parseAuthConfig } from './auth.js';

const dir = mkdtempSync(join(tmpdir(), 'aggregator-auth-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

describe('parseAuthConfig', () => {
  it('needs no credentials when nothing is configured', () => {
    expect(parseAuthConfig({})).toEqual({ kind: 'none' });
    expect(parseAuthConfig({ PROMETHEUS_METRICS_AUTH_TOKEN: '' })).toEqual({ kind: 'none' });
  });

  it('reads a bearer token inline or from a file, trimming the trailing newline', () => {
    expect(parseAuthConfig({ PROMETHEUS_METRICS_AUTH_TOKEN: 's3cret' })).toEqual({ kind: 'bearer', token: 's3cret' });
    const path = file('token', 'from-file\n');
    expect(parseAuthConfig({ PROMETHEUS_METRICS_AUTH_TOKEN_FILE: path })).toEqual({
      kind: 'bearer',
      token: 'from-file',
    });
  });

  it('reads basic auth with the password inline or from a file', () => {
    expect(
      parseAuthConfig({ PROMETHEUS_METRICS_BASIC_AUTH_USER: 'prom', PROMETHEUS_METRICS_BASIC_AUTH_PASSWORD: 'p:w d' }),
    ).toEqual({ kind: 'basic', user: 'prom', password: 'p:w d' });
    const path = file('password', '  hunter2\r\n');
    expect(
      parseAuthConfig({
        PROMETHEUS_METRICS_BASIC_AUTH_USER: 'prom',
        PROMETHEUS_METRICS_BASIC_AUTH_PASSWORD_FILE: path,
      }),
    ).toEqual({ kind: 'basic', user: 'prom', password: 'hunter2' });
  });

  it('refuses a token together with basic auth, naming both variables but not the secret', () => {
    const attempt = () =>
      parseAuthConfig({ PROMETHEUS_METRICS_AUTH_TOKEN: 'tok-123', PROMETHEUS_METRICS_BASIC_AUTH_USER: 'prom' });
    expect(attempt).toThrow(
      /^Invalid PROMETHEUS_METRICS_AUTH_TOKEN "\[redacted, 7 characters\]".*PROMETHEUS_METRICS_BASIC_AUTH_USER is set/,
    );
    expect(attempt).not.toThrow(/tok-123/);
  });

  it('refuses a value together with its _FILE variant', () => {
    const path = file('both', 'x');
    expect(() =>
      parseAuthConfig({ PROMETHEUS_METRICS_AUTH_TOKEN: 'x', PROMETHEUS_METRICS_AUTH_TOKEN_FILE: path }),
    ).toThrow(`Invalid PROMETHEUS_METRICS_AUTH_TOKEN_FILE "${path}": expected either PROMETHEUS_METRICS_AUTH_TOKEN or`);
  });

  it('names the variable and the path of a missing, empty or unreadable secret file', () => {
    const missing = join(dir, 'nope');
    expect(() => parseAuthConfig({ PROMETHEUS_METRICS_AUTH_TOKEN_FILE: missing })).toThrow(
      `Invalid PROMETHEUS_METRICS_AUTH_TOKEN_FILE "${missing}": expected a readable file holding the secret (ENOENT)`,
    );
    const empty = file('empty', ' \n');
    expect(() =>
      parseAuthConfig({ PROMETHEUS_METRICS_BASIC_AUTH_USER: 'u', PROMETHEUS_METRICS_BASIC_AUTH_PASSWORD_FILE: empty }),
    ).toThrow(
      `Invalid PROMETHEUS_METRICS_BASIC_AUTH_PASSWORD_FILE "${empty}": expected a file holding the secret, but the file is empty`,
    );
    expect(() => parseAuthConfig({ PROMETHEUS_METRICS_AUTH_TOKEN_FILE: dir })).toThrow(/\(EISDIR\)/);
    if (process.getuid?.() !== 0) {
      const locked = file('locked', 'x');
      chmodSync(locked, 0o000);
      expect(() => parseAuthConfig({ PROMETHEUS_METRICS_AUTH_TOKEN_FILE: locked })).toThrow(/\(EACCES\)/);
    }
  });

  it('refuses half-configured basic auth and unusable values', () => {
    expect(() => parseAuthConfig({ PROMETHEUS_METRICS_BASIC_AUTH_USER: 'prom' })).toThrow(
      'Invalid PROMETHEUS_METRICS_BASIC_AUTH_USER "prom": expected to be used with PROMETHEUS_METRICS_BASIC_AUTH_PASSWORD',
    );
    expect(() => parseAuthConfig({ PROMETHEUS_METRICS_BASIC_AUTH_PASSWORD: 'pw' })).toThrow(
      /^Invalid PROMETHEUS_METRICS_BASIC_AUTH_PASSWORD "\[redacted, 2 characters\]": expected to be used with PROMETHEUS_METRICS_BASIC_AUTH_USER/,
    );
    expect(() =>
      parseAuthConfig({ PROMETHEUS_METRICS_BASIC_AUTH_USER: 'a:b', PROMETHEUS_METRICS_BASIC_AUTH_PASSWORD: 'pw' }),
    ).toThrow('Invalid PROMETHEUS_METRICS_BASIC_AUTH_USER "a:b": expected a user name without ":"');
    expect(() => parseAuthConfig({ PROMETHEUS_METRICS_AUTH_TOKEN: 'two words' })).toThrow(
      /^Invalid PROMETHEUS_METRICS_AUTH_TOKEN "\[redacted, 9 characters\]": expected a token of visible ASCII/,
    );
  });
});

describe('isAuthorized', () => {
  it('accepts exactly the configured bearer token', () => {
    const auth = { kind: 'bearer', token: 'abc' } as const;
    expect(isAuthorized(auth, 'Bearer abc')).toBe(true);
    expect(isAuthorized(auth, 'bearer abc')).toBe(true);
    expect(isAuthorized(auth, 'Bearer abcd')).toBe(false);
    expect(isAuthorized(auth, 'Bearer')).toBe(false);
    expect(isAuthorized(auth, basic('abc', 'abc'))).toBe(false);
    expect(isAuthorized(auth, undefined)).toBe(false);
  });

  it('accepts exactly the configured user and password, including colons in the password', () => {
    const auth = { kind: 'basic', user: 'prom', password: 'a:b' } as const;
    expect(isAuthorized(auth, basic('prom', 'a:b'))).toBe(true);
    expect(isAuthorized(auth, basic('prom', 'a:c'))).toBe(false);
    expect(isAuthorized(auth, basic('Prom', 'a:b'))).toBe(false);
    expect(isAuthorized(auth, 'Basic !!!not-base64')).toBe(false);
    expect(isAuthorized(auth, 'Bearer a:b')).toBe(false);
  });
});
