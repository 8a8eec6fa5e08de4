import { describe, expect, it } from 'vitest';
import { RestartBackoff } from './backoff.js';
import { readBackendConfig } from './config.js';

describe('readBackendConfig', () => {
  it('has the documented defaults', () => {
    expect(readBackendConfig({})).toEqual({
      port: 8000,
      host: '0.0.0.0',
      workers: 2,
      framework: 'koa',
      latencyScale: 1,
      drainTimeoutMs: 10_000,
    });
  });

  it('reads every variable', () => {
    const env = {
      BACKEND_PORT: '0',
      BACKEND_HOST: '[::1]',
      WEB_CONCURRENCY: '64',
      BACKEND_FRAMEWORK: 'Express',
      BACKEND_LATENCY_SCALE: '0.5',
      BACKEND_DRAIN_TIMEOUT_MS: '250',
    };
    expect(readBackendConfig(env)).toEqual({
      port: 0,
      host: '::1',
      workers: 64,
      framework: 'express',
      latencyScale: 0.5,
      drainTimeoutMs: 250,
    });
  });

  it.each([
    [{ WEB_CONCURRENCY: '0' }, 'Invalid WEB_CONCURRENCY "0": expected an integer 1-64'],
    [{ WEB_CONCURRENCY: '65' }, 'Invalid WEB_CONCURRENCY "65": expected an integer 1-64'],
    [{ WEB_CONCURRENCY: '2.5' }, 'Invalid WEB_CONCURRENCY "2.5": expected an integer 1-64'],
    [{ BACKEND_PORT: '70000' }, 'Invalid BACKEND_PORT "70000": expected an integer 0-65535'],
    [{ BACKEND_FRAMEWORK: 'fastify' }, 'Invalid BACKEND_FRAMEWORK "fastify": expected koa or express'],
    [{ BACKEND_LATENCY_SCALE: '-1' }, 'Invalid BACKEND_LATENCY_SCALE "-1": expected a number 0-1000'],
    [{ BACKEND_HOST: 'a b' }, 'Invalid BACKEND_HOST "a b": expected an IP address or host name'],
  ])('rejects %o naming the variable and the value', (env, message) => {
    expect(() => readBackendConfig(env)).toThrow(message);
  });
});

describe('RestartBackoff', () => {
  it('replaces a first crash at once, then backs off while crashes come quickly, up to the cap', () => {
    const backoff = new RestartBackoff({ initialMs: 100, maxMs: 1000, stableMs: 10_000 });
    const delays: number[] = [];
    let now = 0;
    for (let i = 0; i < 7; i++) {
      backoff.started(now);
      now += 50; // dies 50 ms after its start
      const delay = backoff.crashed(now);
      delays.push(delay);
      now += delay;
    }
    expect(delays).toEqual([0, 100, 200, 400, 800, 1000, 1000]);
  });

  it('forgets earlier crashes once a process ran longer than the stable time', () => {
    const backoff = new RestartBackoff({ initialMs: 100, stableMs: 1000 });
    backoff.started(0);
    backoff.crashed(10);
    backoff.started(10);
    expect(backoff.crashed(20)).toBe(100);
    backoff.started(20);
    expect(backoff.crashed(5000)).toBe(0);
  });
});
