import { readFileSync } from 'node:fs';

/** Small helpers shared by the benchmarks: medians, timing and the JSON-lines output. */

/** Clock ticks per second, as /proc/<pid>/stat counts them (CLK_TCK, USER_HZ: 100 on Linux). */
const TICKS = 100;

/** The median of a list of numbers (the mean of the middle two for an even count). */
export function median(values) {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Milliseconds since `start` (a process.hrtime.bigint() reading). */
export function msSince(start) {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

/** Round to 3 significant decimals for printing. */
export function round(value, digits = 3) {
  if (!Number.isFinite(value)) return value;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** CPU time another process has used so far, all its threads (utime + stime from /proc), in ms; Linux only. */
export function processCpuMs(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS;
}

/** Print one measurement as a JSON line on stdout (stdout carries nothing else). */
export function emit(record) {
  process.stdout.write(`${JSON.stringify(record)}\n`);
}

/** Let timers (the store's background flush) and I/O run. */
export function yieldToLoop() {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Positive integer from the environment, or the fallback. */
export function envInt(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`Invalid ${name} ${JSON.stringify(raw)}: expected a positive integer`);
  return n;
}

/** BENCH_QUICK=1: the reduced grid and shorter runs. */
export const QUICK = process.env.BENCH_QUICK === '1';
/** BENCH_FULL=1: also the slowest AggregatorRegistry cell (W=32, S=10000). */
export const FULL = process.env.BENCH_FULL === '1';

/** A comma-separated list of positive integers from the environment (BENCH_WORKERS=2,8), or undefined. */
export function listFromEnv(name) {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  return raw.split(',').map((part) => {
    const n = Number(part.trim());
    if (!Number.isInteger(n) || n < 1)
      throw new Error(`Invalid ${name} ${JSON.stringify(raw)}: expected positive integers separated by commas`);
    return n;
  });
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
