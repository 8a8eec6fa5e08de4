/**
 * express-throughput: requests per second a minimal CPU-bound Express app serves in one process (two
 * parameterised routes returning small JSON, bench/express-server.mjs) with metrics off, with
 * express-prom-bundle, with @kci-metrics/express plus the SQLite store (issue 17), and with the floor (a
 * minimal recorder of our design, as a reference for what any such recorder costs here), in blocks of fresh
 * processes: each block starts the four variants, warms each up, then loads them in turns of
 * BENCH_EXPRESS_SLICE_MS (the order rotates) until each had BENCH_EXPRESS_MS, with keep-alive connections
 * from this process. A variant loaded for 3 s after another (the first version of this bench) measured the
 * machine's drift as much as the variant: on the shared 2-core machine one run's per-block ratios ranged
 * from 0.71x to 1.43x of off.
 *
 * On Linux with 2 CPUs or more (and `taskset`), this process, the load generator, runs on CPU 0 and every
 * server on CPU 1, so that the scheduler never puts a server and the client on one core (2026-12-07: two
 * unpinned A/A runs of two identical servers measured 0.82-1.11x per block; pinned, 0.97-1.09x). Each
 * server's CPU time (all its threads, from /proc) is also summed over its turns: `*CpuUs` is its CPU time
 * per request, which the client's own noise does not reach. `ratio` = variant / off within the block; the
 * median over blocks is reported, with the range.
 *
 * Env: BENCH_EXPRESS_BLOCKS (default 6), BENCH_EXPRESS_MS (default 3000), BENCH_EXPRESS_SLICE_MS (default 250),
 * BENCH_EXPRESS_CONNECTIONS (default 16), BENCH_EXPRESS_PIN=0 (no pinning).
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, get } from 'node:http';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { emit, envInt, median, processCpuMs, QUICK, round } from './lib/stats.mjs';

const SERVER = fileURLToPath(new URL('express-server.mjs', import.meta.url));
const BLOCKS = envInt('BENCH_EXPRESS_BLOCKS', QUICK ? 2 : 6);
const DURATION_MS = envInt('BENCH_EXPRESS_MS', QUICK ? 1500 : 3000);
const CONNECTIONS = envInt('BENCH_EXPRESS_CONNECTIONS', 16);
const SLICE_MS = envInt('BENCH_EXPRESS_SLICE_MS', 250);
const VARIANTS = ['off', 'prom-bundle', 'kci', 'floor'];
const PATHS = ['/api/tree/5e1f2a9/summary', '/api/build/b1234', '/api/tree/9c0ffee/summary', '/api/build/b5678'];

/** The CPU the servers run on, once this process is pinned to CPU 0; undefined when not pinned. */
const SERVER_CPU = pin();

function pin() {
  if (process.platform !== 'linux' || availableParallelism() < 2 || process.env.BENCH_EXPRESS_PIN === '0') return;
  try {
    execFileSync('taskset', ['-a', '-p', '-c', '0', String(process.pid)], { stdio: 'ignore' });
    return '1';
  } catch {
    return undefined; // no taskset: unpinned, as on other systems
  }
}

/** A server's CPU time so far, in ms; undefined without /proc (not Linux). */
function cpuMs(pid) {
  try {
    return processCpuMs(pid);
  } catch {
    return undefined;
  }
}

function start(variant, dir) {
  const [command, args] =
    SERVER_CPU === undefined
      ? [process.execPath, [SERVER, variant, dir]]
      : ['taskset', ['-c', SERVER_CPU, process.execPath, SERVER, variant, dir]]; // taskset execs: same pid
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((ready, fail) => {
    child.stdout.once('data', (d) => ready({ port: Number(String(d).trim()), child }));
    child.once('exit', (code) => fail(new Error(`${variant} server exited ${code}`)));
  });
}

/** Keep CONNECTIONS requests in flight for `ms`; the number completed. */
function load(port, ms) {
  const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  const until = Date.now() + ms;
  let done = 0;
  let k = 0;
  return new Promise((finish, fail) => {
    let open = 0;
    const next = () => {
      if (Date.now() >= until) {
        if (open === 0) {
          agent.destroy();
          finish(done);
        }
        return;
      }
      open++;
      get({ host: '127.0.0.1', port, path: PATHS[k++ % PATHS.length], agent }, (res) => {
        res.resume();
        res.on('end', () => {
          open--;
          if (res.statusCode !== 200) fail(new Error(`status ${res.statusCode}`));
          done++;
          next();
        });
      }).on('error', fail);
    };
    for (let i = 0; i < CONNECTIONS; i++) next();
  });
}

const perVariant = (make) => Object.fromEntries(VARIANTS.map((v) => [v, make()]));
/** Per variant, per block: throughput, and throughput / off's in the same block. */
const rps = perVariant(() => []);
const ratios = perVariant(() => []);
/** Per variant, over every block: server CPU ms during its turns, and the requests it served then. */
const cpu = perVariant(() => [0, 0]);
const slices = Math.max(1, Math.round(DURATION_MS / SLICE_MS));
for (let block = 0; block < BLOCKS; block++) {
  const servers = {};
  const dirs = [];
  try {
    for (const variant of VARIANTS) {
      const dir = mkdtempSync(join(tmpdir(), 'bench-express-'));
      dirs.push(dir);
      servers[variant] = await start(variant, dir);
    }
    for (const variant of VARIANTS) await load(servers[variant].port, 500); // warm-up: JIT, the store's first flush
    // The variants take turns in slices (the order rotates), so that the machine's drifts reach all alike.
    const done = perVariant(() => 0);
    const ms = perVariant(() => 0);
    for (let slice = 0; slice < slices; slice++) {
      for (let i = 0; i < VARIANTS.length; i++) {
        const variant = VARIANTS[(i + slice + block) % VARIANTS.length];
        const { port, child } = servers[variant];
        const t0 = performance.now();
        const c0 = cpuMs(child.pid);
        const served = await load(port, SLICE_MS);
        const c1 = cpuMs(child.pid);
        ms[variant] += performance.now() - t0;
        done[variant] += served;
        if (c0 !== undefined && c1 !== undefined) {
          cpu[variant][0] += c1 - c0;
          cpu[variant][1] += served;
        }
      }
    }
    const got = Object.fromEntries(VARIANTS.map((v) => [v, done[v] / (ms[v] / 1000)]));
    for (const v of VARIANTS) {
      rps[v].push(got[v]);
      ratios[v].push(got[v] / got.off);
    }
  } finally {
    for (const { child } of Object.values(servers))
      await new Promise((exited) => child.once('exit', exited) && child.kill('SIGTERM'));
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  }
}
/** Server CPU µs per request by variant; null without /proc. */
const cpuUs = Object.fromEntries(
  VARIANTS.map((v) => [v, cpu[v][1] > 0 ? round((1000 * cpu[v][0]) / cpu[v][1], 1) : null]),
);
/** The lowest and highest per-block throughput ratio to off of a variant. */
const range = (v) => [round(Math.min(...ratios[v])), round(Math.max(...ratios[v]))];
/** Throughput as the servers' CPU time per request predicts it for a CPU-bound server: off / variant. */
const byCpu = (v) => (cpuUs[v] ? round(cpuUs.off / cpuUs[v]) : null);
const record = {
  bench: 'express-throughput',
  offRps: round(median(rps.off), 0),
  promBundleRps: round(median(rps['prom-bundle']), 0),
  kciRps: round(median(rps.kci), 0),
  promBundleVsOff: round(median(ratios['prom-bundle'])),
  kciVsOff: round(median(ratios.kci)),
  kciVsOffRange: range('kci'),
  promBundleVsOffRange: range('prom-bundle'),
  kciVsPromBundle: round(median(rps.kci.map((r, i) => r / rps['prom-bundle'][i]))),
  floorRps: round(median(rps.floor), 0),
  floorVsOff: round(median(ratios.floor)),
  floorVsOffRange: range('floor'),
  offCpuUs: cpuUs.off,
  promBundleCpuUs: cpuUs['prom-bundle'],
  kciCpuUs: cpuUs.kci,
  floorCpuUs: cpuUs.floor,
  kciVsOffByCpu: byCpu('kci'),
  floorVsOffByCpu: byCpu('floor'),
  promBundleVsOffByCpu: byCpu('prom-bundle'),
  pinned: SERVER_CPU !== undefined,
  blocks: BLOCKS,
  durationMs: DURATION_MS,
  sliceMs: SLICE_MS,
  connections: CONNECTIONS,
};
emit(record);
process.stderr.write(
  `express: off ${record.offRps} req/s; express-prom-bundle ${record.promBundleVsOff}x of off; @kci-metrics/express + store ${record.kciVsOff}x of off (${record.kciVsOffRange.join('-')}), ${record.kciVsPromBundle}x express-prom-bundle; the floor ${record.floorVsOff}x of off; server CPU per request off ${record.offCpuUs} us, express-prom-bundle ${record.promBundleCpuUs}, ours ${record.kciCpuUs}, the floor ${record.floorCpuUs}${record.pinned ? ' (pinned)' : ''}\n`,
);
