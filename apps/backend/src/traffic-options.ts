/** Options of the traffic generator, from flags or the environment, and the loopback-only rule. */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { parseArgs } from 'node:util';
import { ConfigError } from '@kci-metrics/core';
import { parseInteger } from './parse.js';

export interface TrafficOptions {
  /** Base URL of the backend; loopback only. `--target` / `TRAFFIC_TARGET`, default `http://127.0.0.1:8000`. */
  target: URL;
  /** Stop after this many requests. `--requests` / `TRAFFIC_REQUESTS`, default 2000. */
  requests: number;
  /** Requests in flight at once. `--concurrency` / `TRAFFIC_CONCURRENCY`, default 4. */
  concurrency: number;
  /** Stop after this many seconds at the latest. `--duration` / `TRAFFIC_DURATION_S`, default 300. */
  durationS: number;
  /** Requests per second, 0 for as fast as possible. `--rate` / `TRAFFIC_RATE`, default 50. */
  rate: number;
}

type Env = Record<string, string | undefined>;

/**
 * Read the options: a flag wins over its variable. Throws a ConfigError naming the flag or variable.
 *
 * @example
 * await readTrafficOptions(['--requests', '100'], {}); // { requests: 100, target: http://127.0.0.1:8000/, ... }
 */
export async function readTrafficOptions(argv: string[], env: Env): Promise<TrafficOptions> {
  let flags: Record<string, string | undefined>;
  try {
    ({ values: flags } = parseArgs({
      args: argv,
      options: {
        target: { type: 'string' },
        requests: { type: 'string' },
        concurrency: { type: 'string' },
        duration: { type: 'string' },
        rate: { type: 'string' },
      },
    }));
  } catch (error) {
    throw new ConfigError(
      'arguments',
      argv.join(' '),
      `--target, --requests, --concurrency, --duration or --rate (${(error as Error).message})`,
    );
  }
  const pick = (flag: string, variable: string): [string, string | undefined] =>
    flags[flag] !== undefined ? [`--${flag}`, flags[flag]] : [variable, env[variable]];
  const int = (flag: string, variable: string, fallback: number, min: number, max: number) => {
    const [key, raw] = pick(flag, variable);
    return parseInteger(key, raw, fallback, min, max);
  };
  const [targetKey, rawTarget] = pick('target', 'TRAFFIC_TARGET');
  return {
    target: await loopbackTarget(targetKey, rawTarget ?? 'http://127.0.0.1:8000'),
    requests: int('requests', 'TRAFFIC_REQUESTS', 2000, 1, 10_000_000),
    concurrency: int('concurrency', 'TRAFFIC_CONCURRENCY', 4, 1, 256),
    durationS: int('duration', 'TRAFFIC_DURATION_S', 300, 1, 86_400),
    rate: int('rate', 'TRAFFIC_RATE', 50, 0, 100_000),
  };
}

/** True for 127.0.0.0/8, ::1 and IPv4-mapped loopback addresses. */
export function isLoopbackAddress(address: string): boolean {
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  if (isIP(v4) === 4) return v4.startsWith('127.');
  return address === '::1' || address === '0:0:0:0:0:0:0:1';
}

// The generator is a load tool: it must never be pointed at someone else's server (team rule and issue #4).
async function loopbackTarget(key: string, raw: string): Promise<URL> {
  const expected = 'an http:// URL of a loopback address (127.0.0.1, ::1 or localhost)';
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(key, raw, expected);
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (url.protocol !== 'http:') throw new ConfigError(key, raw, expected);
  const addresses = isIP(host) ? [host] : await resolveAll(host);
  if (addresses.length === 0 || !addresses.every(isLoopbackAddress)) {
    throw new ConfigError(key, raw, `${expected}; ${host} is not loopback`);
  }
  return url;
}

async function resolveAll(host: string): Promise<string[]> {
  try {
    return (await lookup(host, { all: true })).map((a) => a.address);
  } catch {
    return [];
  }
}
