/**
 * worker-memory: what the store adds to a worker's memory (issue 17). A worker process holds the S series
 * of the workload (lib/workload.mjs) in prom-client, alone or with the store attached, flushed, then 10% of
 * its series changed and flushed again (so the store's change tracking and per-series state are all
 * there). After two full garbage collections it reports its RSS and V8 heap. Each variant runs in a fresh
 * process, the variants in turn, BENCH_MEMORY_REPS times; the medians are reported, and the store's extra
 * RSS and heap over prom-client alone. BENCH_BASE_STORE=<another build's dist/index.js> adds that build.
 *
 *   node --expose-gc bench/worker-memory.mjs
 *
 * Env: BENCH_MEMORY_SERIES (default 10000,100000), BENCH_MEMORY_REPS (default 3; 1 with BENCH_QUICK).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { countingLogger, loadStore, promClient } from './lib/deps.mjs';
import { emit, envInt, listFromEnv, median, QUICK, round } from './lib/stats.mjs';
import { defineMetrics, labelSets, touch } from './lib/workload.mjs';

const SELF = fileURLToPath(import.meta.url);
const MB = 2 ** 20;

if (process.argv[2] === 'child') await child(process.argv[3], Number(process.argv[4]), process.argv[5]);
else await parent();

/** One worker: S series, the store attached or not, two flushes; prints { rssMb, heapMb } once settled. */
async function child(variant, series, dir) {
  if (typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc');
  const registry = new promClient.Registry();
  const metrics = defineMetrics(promClient, registry);
  const sets = labelSets(series);
  for (let i = 0; i < series; i++) touch(metrics, sets[i], i);
  let store;
  if (variant !== 'alone') {
    const { openStore } = await loadStore(variant === 'base' ? process.env.BENCH_BASE_STORE : undefined);
    store = openStore({ dir, flushIntervalMs: 3_600_000, logger: countingLogger() });
    store.attach(registry);
    if (!store.flush()) throw new Error('the first flush failed');
  }
  for (let i = 0; i < series / 10; i++) touch(metrics, sets[i], i);
  if (store && !store.flush()) throw new Error('the second flush failed');
  for (let i = 0; i < 2; i++) {
    globalThis.gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  const { rss, heapUsed } = process.memoryUsage();
  // The registry is used after the reading: without a store holding it, nothing else keeps it alive, and
  // V8 may collect it before (one run measured prom-client alone at S=100000 with 4.8 MB of heap).
  if (registry.getMetricsAsArray().length === 0) throw new Error('the registry lost its metrics');
  process.stdout.write(`${JSON.stringify({ rssMb: rss / MB, heapMb: heapUsed / MB })}\n`);
  store?.close();
}

function measure(variant, series) {
  const dir = mkdtempSync(join(tmpdir(), 'bench-worker-memory-'));
  const proc = spawn(process.execPath, ['--expose-gc', SELF, 'child', variant, String(series), dir], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: process.env,
  });
  let out = '';
  proc.stdout.on('data', (d) => {
    out += d;
  });
  return new Promise((resolve, reject) => {
    proc.on('close', (code) => {
      rmSync(dir, { recursive: true, force: true });
      if (code !== 0) reject(new Error(`worker-memory ${variant} S=${series} exited ${code}`));
      else resolve(JSON.parse(out));
    });
  });
}

async function parent() {
  const reps = envInt('BENCH_MEMORY_REPS', QUICK ? 1 : 3);
  const variants = ['alone', 'store', ...(process.env.BENCH_BASE_STORE ? ['base'] : [])];
  for (const series of listFromEnv('BENCH_MEMORY_SERIES') ?? [10000, 100000]) {
    const runs = Object.fromEntries(variants.map((v) => [v, []]));
    for (let rep = 0; rep < reps; rep++) {
      // The order rotates, so no variant always runs on a machine the previous one just warmed.
      for (let k = 0; k < variants.length; k++) {
        const variant = variants[(rep + k) % variants.length];
        runs[variant].push(await measure(variant, series));
      }
    }
    const rss = (v) => round(median(runs[v].map((r) => r.rssMb)), 1);
    const heap = (v) => round(median(runs[v].map((r) => r.heapMb)), 1);
    const record = {
      bench: 'worker-memory',
      S: series,
      reps,
      aloneRssMb: rss('alone'),
      storeRssMb: rss('store'),
      extraRssMb: round(rss('store') - rss('alone'), 1),
      aloneHeapMb: heap('alone'),
      storeHeapMb: heap('store'),
      extraHeapMb: round(heap('store') - heap('alone'), 1),
      ...(runs.base ? { baseRssMb: rss('base'), baseExtraRssMb: round(rss('base') - rss('alone'), 1) } : {}),
    };
    emit(record);
    process.stderr.write(
      `S=${series}: prom-client alone ${record.aloneRssMb} MB RSS (heap ${record.aloneHeapMb}), store attached ${record.storeRssMb} MB (heap ${record.storeHeapMb}): +${record.extraRssMb} MB\n`,
    );
  }
}
