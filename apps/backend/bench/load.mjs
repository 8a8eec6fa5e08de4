#!/usr/bin/env node
/**
 * Load benchmark of the demo backend (issue #4, part 3): autocannon on loopback against two demos started
 * side by side, one with metrics on and one with metrics off, same worker count, loaded in alternating
 * rounds (off/on, then on/off, ...) so that drift on the machine hits both alike; BENCH_BLOCKS times over,
 * each block with a fresh pair of demos.
 *
 * Prints JSON lines: one per run, then a summary with requests/s on and off, their ratio (target >= 0.97),
 * and the sum of http_request_duration_seconds_count over all routes scraped from the aggregator after
 * the load and one flush interval, next to the number of responses autocannon counted (must be equal).
 * On a shared machine throughput is noisy, so it also reports the workers' CPU time per request (from
 * /proc, in nanoseconds, Linux only), which other processes disturb much less: cpu_ratio = CPU off / CPU on. Both ratios
 * are medians of per-round ratios (the two runs of a round are adjacent in time), each with a bootstrap
 * 95% interval.
 *
 *   node apps/backend/bench/load.mjs        (after `pnpm turbo run build --filter=backend...`)
 *
 * Variables: BENCH_WORKERS (WEB_CONCURRENCY of both demos, default 2), BENCH_BLOCKS (default 6), BENCH_ROUNDS (per block, default 4),
 * BENCH_REQUESTS (per run, default 10000), BENCH_WARMUP (per demo, default 10000), BENCH_CONNECTIONS (default 32),
 * BENCH_FRAMEWORK (koa|express), BENCH_LATENCY_SCALE (the demos' BACKEND_LATENCY_SCALE, default 0: no synthetic
 * latency, so the workers are CPU-bound and every microsecond metrics cost shows; 1 is the demo as shipped, where each
 * route waits 1-5 ms as a service waiting on its database would), BENCH_PAIRED (1: load both demos at the same time, each with half the connections,
 * so that the machine's speed, which drifts by tens of percent within minutes on a shared VM, is the same for
 * both; CPU per request is then compared within the same seconds, and the throughput ratio has no target: how the
 * two demos split the machine is the scheduler's choice), BENCH_BASELINE (another build's apps/backend/dist/: then that build, with metrics
 * on, takes the place of metrics off, and the ratios compare this build with it; both counts are checked).
 * Exit code 1 when the counts differ or a request failed; the throughput ratio is reported, not enforced.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

const DIST = fileURLToPath(new URL('../dist/', import.meta.url));
if (!existsSync(join(DIST, 'demo.js'))) {
  console.error(`${DIST}demo.js is missing: build first (pnpm turbo run build --filter=backend...)`);
  process.exit(1);
}
const { trafficPlan } = await import(join(DIST, 'traffic-plan.js'));

const int = (name, fallback) => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < 1) throw new Error(`Invalid ${name} "${raw}": expected a positive integer`);
  return Number(raw);
};
function latencyScale(raw) {
  if (raw === undefined || raw === '') return 0;
  if (!/^\d+(\.\d+)?$/.test(raw)) throw new Error(`Invalid BENCH_LATENCY_SCALE "${raw}": expected a number >= 0`);
  return Number(raw);
}
const WORKERS = int('BENCH_WORKERS', 2);
const BLOCKS = int('BENCH_BLOCKS', 6);
const ROUNDS = int('BENCH_ROUNDS', 4);
const REQUESTS = int('BENCH_REQUESTS', 10_000);
const CONNECTIONS = int('BENCH_CONNECTIONS', 32);
const WARMUP = int('BENCH_WARMUP', 10_000); // per demo and block, before its first round: JIT, connections, store rows
const FRAMEWORK = process.env.BENCH_FRAMEWORK || 'koa';
const LATENCY_SCALE = latencyScale(process.env.BENCH_LATENCY_SCALE);
const BASELINE = process.env.BENCH_BASELINE || undefined;
const PAIRED = process.env.BENCH_PAIRED === '1';
if (BASELINE && !existsSync(join(BASELINE, 'demo.js'))) {
  console.error(`BENCH_BASELINE: ${BASELINE} has no demo.js (expected another checkout's apps/backend/dist/)`);
  process.exit(1);
}
const FLUSH_MS = 1000;

async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Start dist/demo.js and resolve when its workers listen. */
async function startDemo(label, env, dist = DIST) {
  const child = spawn(process.execPath, [join(dist, 'demo.js')], {
    env: {
      ...process.env,
      BACKEND_HOST: '127.0.0.1',
      BACKEND_PORT: '0',
      WEB_CONCURRENCY: String(WORKERS),
      BACKEND_FRAMEWORK: FRAMEWORK,
      BACKEND_LATENCY_SCALE: String(LATENCY_SCALE),
      PROMETHEUS_METRICS_HOST: '127.0.0.1',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  const deadline = Date.now() + 20_000;
  while (!/KernelCI Dashboard API mirror/.test(output)) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`${label} demo did not start:\n${output}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const port = Number(/listening on port (\d+)/.exec(output)[1]);
  const workers = [...output.matchAll(/\(pid (\d+)\) listening/g)].map((m) => Number(m[1]));
  return { label, port, child, workers, exited, output: () => output };
}

// A realistic mix: every route, POST bodies, unknown URLs, `missing` and `error` ids (see traffic-plan).
const plan = trafficPlan('bench');
const mix = Array.from({ length: 400 }, () => plan.next().value).map((r) => ({
  method: r.method,
  path: r.url,
  ...(r.body ? { body: r.body, headers: { 'content-type': 'application/json' } } : {}),
}));

/**
 * CPU seconds the demo's workers used so far, all their threads (V8's compiler and GC helpers included);
 * NaN where /proc is missing. Read from each thread's schedstat, in nanoseconds: the utime and stime of
 * /proc/<pid>/stat count 10 ms ticks, which for a run of 0.6 CPU-seconds (10 000 Koa requests) is a
 * rounding error of 2-3%, as large as what is being measured. Kernels without schedstat get the ticks.
 */
function workerCpuSeconds(demo) {
  let seconds = 0;
  for (const pid of demo.workers) {
    try {
      seconds += threadsCpuSeconds(pid);
    } catch {
      try {
        const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
        seconds += (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime (fields 14, 15 of proc(5)), USER_HZ
      } catch {
        return Number.NaN;
      }
    }
  }
  return seconds;
}

function threadsCpuSeconds(pid) {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
  }
  if (!Number.isFinite(ns)) throw new Error(`unreadable schedstat for ${pid}`);
  return ns / 1e9;
}

/** One autocannon run of `amount` requests; requests/s from the first request to the last response. */
async function load(demo, amount, connections = CONNECTIONS) {
  let last = 0;
  const cpuBefore = workerCpuSeconds(demo);
  const started = performance.now();
  const instance = autocannon({
    url: `http://127.0.0.1:${demo.port}`,
    connections,
    amount,
    requests: mix,
  });
  instance.on('response', () => (last = performance.now()));
  const result = await instance;
  const responses = result['1xx'] + result['2xx'] + result['3xx'] + result['4xx'] + result['5xx'];
  const cpuUs = ((workerCpuSeconds(demo) - cpuBefore) * 1e6) / responses;
  return {
    responses,
    errors: result.errors,
    timeouts: result.timeouts,
    rps: responses / ((last - started) / 1000),
    cpuUs,
  };
}

/**
 * Load each demo with `amount` requests, in this order; paired, both at once with half the connections
 * each, still started in this order (which one autocannon starts first changes the split a little).
 */
async function loadInTurn(demos, amount) {
  if (PAIRED) {
    const results = await Promise.all(demos.map((demo) => load(demo, amount, CONNECTIONS / 2)));
    return demos.map((demo, i) => [demo, results[i]]);
  }
  const runs = [];
  for (const demo of demos) runs.push([demo, await load(demo, amount)]);
  return runs;
}

async function scrapeTotal(port) {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics/`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('http_request_duration_seconds_count{')) sum += Number(line.slice(line.lastIndexOf('}') + 1));
  }
  return sum;
}

const median = (xs) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const print = (obj) => console.log(JSON.stringify(obj));

/**
 * 95% interval of the median of `xs` by bootstrap (2000 resamples, fixed seed): how far the median ratio
 * could move on this machine's noise. Rounds swing by +-10% here; the interval says whether a ratio
 * below or above the target is a measurement or noise.
 */
function bootstrapMedianCi(xs) {
  let seed = 12345;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const medians = [];
  for (let b = 0; b < 2000; b++) medians.push(median(xs.map(() => xs[Math.floor(rand() * xs.length)])));
  medians.sort((a, b) => a - b);
  return [medians[Math.floor(0.025 * medians.length)], medians[Math.floor(0.975 * medians.length)]];
}

const loadStart = loadavg()[0];
const blocks = [];
let exitCode = 0;
for (let block = 1; block <= BLOCKS; block++) {
  const result = await runBlock(block);
  blocks.push(result);
  if (!result.countsEqual || result.errors > 0 || !result.stoppedCleanly) exitCode = 1;
}
const pairRatios = blocks.flatMap((b) => b.pairRatios);
const cpuPairRatios = blocks.flatMap((b) => b.cpuPairRatios);
const ratio = median(pairRatios);
const summary = {
  mode: PAIRED ? 'paired: both demos loaded at the same time' : 'alternating: one demo at a time',
  compared: BASELINE ? `metrics on: this build ("on") vs ${BASELINE} ("off")` : 'metrics on vs metrics off',
  framework: FRAMEWORK,
  workers: WORKERS,
  latency_scale: LATENCY_SCALE,
  connections: CONNECTIONS,
  blocks: BLOCKS,
  rounds_per_block: ROUNDS,
  requests_per_run: REQUESTS,
  rps_off: Math.round(median(blocks.flatMap((b) => b.rps.off))),
  rps_on: Math.round(median(blocks.flatMap((b) => b.rps.on))),
  ratio: Number(ratio.toFixed(3)),
  ratio_ci95: bootstrapMedianCi(pairRatios).map((r) => Number(r.toFixed(3))),
  ratio_per_block: blocks.map((b) => Number(median(b.pairRatios).toFixed(3))),
  // Paired, the two demos share the machine and the scheduler decides their split of it: only CPU per
  // request compares them then (cpu_ratio), not their throughput.
  ratio_target: BASELINE || PAIRED ? null : 0.97,
  ratio_ok: BASELINE || PAIRED ? null : ratio >= 0.97,
  worker_cpu_us_per_request_off: Math.round(median(blocks.flatMap((b) => b.cpu.off))),
  worker_cpu_us_per_request_on: Math.round(median(blocks.flatMap((b) => b.cpu.on))),
  cpu_ratio: Number(median(cpuPairRatios).toFixed(3)),
  cpu_ratio_ci95: bootstrapMedianCi(cpuPairRatios).map((r) => Number(r.toFixed(3))),
  responses_counted_on: blocks.reduce((n, b) => n + b.counted, 0),
  http_request_duration_seconds_count_sum: blocks.reduce((n, b) => n + b.recorded, 0),
  counts_equal: blocks.every((b) => b.countsEqual),
  request_errors: blocks.reduce((n, b) => n + b.errors, 0),
  // Other processes on the machine make throughput noisy: the 1-minute load average before and after.
  loadavg_1m: [Number(loadStart.toFixed(2)), Number(loadavg()[0].toFixed(2))],
};
print(summary);
process.exit(exitCode);

/**
 * One block: a fresh pair of demos (a fresh store, FRESH_START), warmed up, then ROUNDS alternating rounds
 * (off/on, then on/off, ...), then the exact-count check. Fresh processes per block, because two Node
 * processes running the same code differ by a few percent (JIT and memory layout): with one pair for the
 * whole run, that difference would pass for the cost of metrics.
 */
async function runBlock(block) {
  const dir = mkdtempSync(join(tmpdir(), 'kci-bench-'));
  const metricsPort = await freePort();
  const metricsOn = (store, port) => ({
    PROMETHEUS_METRICS_ENABLED: 'true',
    PROMETHEUS_METRICS_PORT: String(port),
    PROMETHEUS_MULTIPROC_DIR: store,
    PROMETHEUS_METRICS_FRESH_START: 'true',
    PROMETHEUS_METRICS_FLUSH_INTERVAL_MS: String(FLUSH_MS),
  });
  const baselineDir = BASELINE ? mkdtempSync(join(tmpdir(), 'kci-bench-')) : undefined;
  const baselinePort = BASELINE ? await freePort() : undefined;
  const off = BASELINE
    ? await startDemo('off', metricsOn(baselineDir, baselinePort), BASELINE)
    : await startDemo('off', { PROMETHEUS_METRICS_ENABLED: 'false' });
  const on = await startDemo('on', metricsOn(dir, metricsPort));
  const result = {
    counted: 0,
    recorded: 0,
    baselineCounted: 0,
    countsEqual: false,
    errors: 0,
    stoppedCleanly: false,
    rps: { on: [], off: [] },
    cpu: { on: [], off: [] },
    pairRatios: [],
    cpuPairRatios: [],
  };
  try {
    const warm = await loadInTurn(block % 2 ? [off, on] : [on, off], WARMUP);
    for (const [demo, r] of warm) {
      if (demo === on) result.counted += r.responses;
      else result.baselineCounted += r.responses;
      result.errors += r.errors;
    }
    for (let round = 1; round <= ROUNDS; round++) {
      const runs = {};
      for (const [demo, r] of await loadInTurn((block + round) % 2 ? [off, on] : [on, off], REQUESTS)) {
        runs[demo.label] = r;
        if (demo === on) result.counted += r.responses;
        else result.baselineCounted += r.responses;
        result.errors += r.errors;
        result.rps[demo.label].push(r.rps);
        result.cpu[demo.label].push(r.cpuUs);
        print({
          block,
          round,
          metrics: demo.label,
          requests: r.responses,
          errors: r.errors,
          timeouts: r.timeouts,
          rps: Math.round(r.rps),
          worker_cpu_us_per_request: Number(r.cpuUs.toFixed(1)),
        });
      }
      result.pairRatios.push(runs.on.rps / runs.off.rps); // the two runs of a round are adjacent in time
      result.cpuPairRatios.push(runs.off.cpuUs / runs.on.cpuUs);
    }
    // Every worker flushes once per interval: after two intervals the store holds every response.
    await new Promise((r) => setTimeout(r, 2 * FLUSH_MS + 200));
    result.recorded = await scrapeTotal(metricsPort);
    result.countsEqual = result.recorded === result.counted;
    if (BASELINE) {
      const baselineRecorded = await scrapeTotal(baselinePort);
      if (baselineRecorded !== result.baselineCounted) {
        console.error(`baseline counted ${result.baselineCounted} responses, recorded ${baselineRecorded}`);
        result.countsEqual = false;
      }
    }
    print({ block, responses_counted_on: result.counted, http_request_duration_seconds_count_sum: result.recorded });
  } finally {
    for (const demo of [off, on]) demo.child.kill('SIGTERM');
    const codes = await Promise.all([off.exited, on.exited]);
    result.stoppedCleanly = codes.every((c) => c === 0);
    if (!result.stoppedCleanly) {
      console.error(`a demo did not stop cleanly (exit codes ${codes}):\n${off.output()}\n${on.output()}`);
    }
    rmSync(dir, { recursive: true, force: true });
    if (baselineDir) rmSync(baselineDir, { recursive: true, force: true });
  }
  return result;
}
