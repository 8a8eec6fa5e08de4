/**
 * `pnpm bench`: runs the scrape, record and flush benchmarks (issue #3 section 6), each in its own Node
 * process so one's heap and JIT state cannot colour another's numbers. Every measurement is one JSON line
 * on stdout (also saved to bench/results/<time>.jsonl); the table and the targets go to stderr, and the
 * last stdout line is `{"bench":"summary",...}`.
 *
 * Env: BENCH_QUICK=1 (reduced grid, shorter runs), BENCH_FULL=1 (adds AggregatorRegistry at W=32,
 * S=10000), BENCH_ONLY=scrape,record,flush,express-throughput,worker-memory,http-scrape (a subset), BENCH_BASELINE (a
 * built checkout: adds http-scrape), BENCH_BASE_STORE (another store build: the flush benchmark runs both).
 * See bench/README.md.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { evaluateTargets, formatTable } from './lib/report.mjs';
import { emit, round } from './lib/stats.mjs';

// http-scrape compares with another build (BENCH_BASELINE, the root of a built checkout): run only when set.
const SECTIONS = [
  'scrape',
  'record',
  'flush',
  'express-throughput',
  'worker-memory',
  ...(process.env.BENCH_BASELINE ? ['http-scrape'] : []),
];

// `node bench/run.mjs --report results/<time>.jsonl`: print the table of a saved run again.
if (process.argv[2] === '--report') {
  if (!process.argv[3]) {
    process.stderr.write('Usage: node bench/run.mjs --report bench/results/<time>.jsonl\n');
    process.exit(2);
  }
  const saved = readFileSync(process.argv[3], 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
  const machine = saved.find((r) => r.bench === 'machine');
  const summary = saved.find((r) => r.bench === 'summary');
  process.stdout.write(`${formatTable(saved, machine, { ...summary, targets: evaluateTargets(saved) })}\n`);
  process.exit(0);
}

const only = process.env.BENCH_ONLY?.split(',').map((s) => s.trim()) ?? SECTIONS;
for (const name of only) {
  if (!SECTIONS.includes(name))
    throw new Error(`Invalid BENCH_ONLY entry ${JSON.stringify(name)}: expected ${SECTIONS.join(', ')}`);
}

const records = [];
const started = Date.now();
const machine = {
  bench: 'machine',
  cpu: cpus()[0]?.model ?? 'unknown',
  cores: cpus().length,
  memGb: round(totalmem() / 2 ** 30, 1),
  node: process.version,
  os: `${process.platform} ${release()}`,
  loadavgAtStart: loadavg().map((l) => round(l, 2)),
  quick: process.env.BENCH_QUICK === '1',
};
record(machine);

let failed = false;
for (const name of SECTIONS.filter((s) => only.includes(s))) {
  process.stderr.write(`[bench] ${name}...\n`);
  const code = await runSection(name);
  if (code !== 0) {
    failed = true;
    process.stderr.write(`[bench] ${name} failed (exit code ${code})\n`);
  }
}

const targets = evaluateTargets(records);
const summary = {
  bench: 'summary',
  seconds: Math.round((Date.now() - started) / 1000),
  loadavgAtEnd: loadavg().map((l) => round(l, 2)),
  targets,
};
record(summary);
process.stderr.write(`\n${formatTable(records, machine, summary)}\n`);

mkdirSync(fileURLToPath(new URL('./results/', import.meta.url)), { recursive: true });
const file = new URL(`./results/${new Date(started).toISOString().replace(/[:.]/g, '-')}.jsonl`, import.meta.url);
writeFileSync(file, `${records.map((r) => JSON.stringify(r)).join('\n')}\n`);
process.stderr.write(`[bench] results saved to ${fileURLToPath(file)}\n`);
process.exitCode = failed ? 1 : 0;

function record(line) {
  records.push(line);
  emit(line);
}

/** Run bench/<name>.mjs; its JSON lines are relayed and collected, anything else goes to stderr. */
function runSection(name) {
  const child = spawn(process.execPath, ['--expose-gc', fileURLToPath(new URL(`./${name}.mjs`, import.meta.url))], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: process.env,
  });
  createInterface({ input: child.stdout }).on('line', (line) => {
    let parsed;
    try {
      parsed = JSON.parse(line);
    } catch {
      process.stderr.write(`${line}\n`);
      return;
    }
    record(parsed);
  });
  return new Promise((resolve) => child.on('close', (code, signal) => resolve(code ?? signal)));
}
