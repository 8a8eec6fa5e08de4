/**
 * http-scrape: a scrape as Prometheus makes it, over HTTP to the aggregator process with
 * `Accept-Encoding: gzip`, in both formats, with W writer processes of S series each (issue 17), for this
 * build and another one side by side: each build's aggregator (`apps/aggregator/dist/main.js` of each
 * checkout, as a child process) reads a store of its own, written by W writers running that build's store
 * (two builds need not share a schema version), touched alike.
 *
 *   BENCH_BASELINE=/path/to/built/checkout node bench/http-scrape.mjs
 *
 * Scenarios, per format: `none` (nothing changed since the last scrape), `10%` and `all` (before each
 * timed scrape, untimed, every writer records one request on that share of its series and flushes).
 * Reported: the median wall time of a scrape (request sent to last byte received), the aggregator's CPU per
 * scrape (utime + stime from /proc, the cost on the monitored host, from the request until the aggregator is
 * idle again: the fold of the store's delta log that follows an answer is counted), the gzip body size, and each
 * aggregator's RSS after the run. Each format starts with WARMUP untimed scrapes of each side (the state of
 * an aggregator that Prometheus scrapes all along). BENCH_WORKERS (default 8), BENCH_SERIES (default 1000,10000).
 */
import { fork, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { Database } from './lib/deps.mjs';
import { emit, listFromEnv, median, processCpuMs, round } from './lib/stats.mjs';
import { COUNTER_INC, counterTotal } from './lib/workload.mjs';

const HERE = fileURLToPath(new URL('..', import.meta.url));
const BASELINE = process.env.BENCH_BASELINE;
if (!BASELINE) throw new Error('Set BENCH_BASELINE to the root of a built checkout to compare with');
const WORKERS = listFromEnv('BENCH_WORKERS') ?? [8];
const SERIES = listFromEnv('BENCH_SERIES') ?? [1000, 10000];
const SCENARIOS = [
  { name: 'none', share: 0 },
  { name: '10%', share: 0.1 },
  { name: 'all', share: 1 },
];
const FORMATS = {
  prometheus: 'text/plain;version=0.0.4',
  openmetrics: 'application/openmetrics-text;version=1.0.0',
};
const WARMUP = 5;

function freePort() {
  return new Promise((done) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => done(port));
    });
  });
}

async function startAggregator(root, dir) {
  const port = await freePort();
  const child = spawn(process.execPath, [join(resolve(root), 'apps/aggregator/dist/main.js')], {
    env: {
      ...process.env,
      PROMETHEUS_MULTIPROC_DIR: dir,
      PROMETHEUS_METRICS_PORT: String(port),
      PROMETHEUS_METRICS_HOST: '127.0.0.1',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}/metrics/`;
  for (let i = 0; ; i++) {
    try {
      await scrape(url, 'prometheus');
      break;
    } catch (err) {
      if (i > 200) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    url,
    cpuMs: () => processCpuMs(child.pid),
    rssMb: () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))[1]) / 1024,
    stop: () => new Promise((done) => child.once('exit', done) && child.kill('SIGTERM')),
  };
}

/**
 * The aggregator's CPU once it is done with the scrape: its store's delta log folded (this build folds it
 * shortly after answering; an older one has none) and no CPU used for 50 ms (at most 5 s after the call).
 */
async function idleCpuMs(side) {
  for (const end = Date.now() + 5000; Date.now() < end && pendingDeltas(side.dir) > 0; )
    await new Promise((r) => setTimeout(r, 10));
  let last = side.cpuMs();
  for (const end = Date.now() + 5000; Date.now() < end; ) {
    await new Promise((r) => setTimeout(r, 50));
    const now = side.cpuMs();
    if (now === last) break;
    last = now;
  }
  return last;
}

/** Rows in the delta log of the store in `dir` (0 for a store without one). */
function pendingDeltas(dir) {
  const db = new Database(join(dir, 'kci-metrics.sqlite'), { readonly: true, fileMustExist: true });
  try {
    return db.prepare('SELECT count(*) FROM deltas').pluck().get();
  } catch {
    return 0;
  } finally {
    db.close();
  }
}

function scrape(url, format) {
  return new Promise((done, fail) => {
    const start = process.hrtime.bigint();
    // A connection per scrape: Node's default agent keeps connections alive, and at S=100000 the base
    // build's scrapes outlast the aggregator's 5 s keep-alive timeout, so a reused socket can be closed under it.
    get(url, { agent: false, headers: { Accept: FORMATS[format], 'Accept-Encoding': 'gzip' } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const ms = Number(process.hrtime.bigint() - start) / 1e6;
        if (res.statusCode !== 200) fail(new Error(`scrape answered ${res.statusCode}`));
        else done({ ms, body: Buffer.concat(chunks), gzip: res.headers['content-encoding'] === 'gzip' });
      });
    }).on('error', fail);
  });
}

async function startWriters(root, dir, workers, series) {
  const children = [];
  const store = join(resolve(root), 'packages/sqlite-store/dist/index.js');
  for (let i = 0; i < workers; i++) {
    const child = fork(join(HERE, 'bench/http-scrape-worker.mjs'), [], {
      env: { ...process.env, BENCH_DIR: dir, BENCH_SERIES: String(series), BENCH_STORE: store },
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    await new Promise((ready, fail) => {
      child.once('message', (m) => m?.op === 'ready' && ready());
      child.once('exit', (code) => fail(new Error(`writer exited ${code}`)));
    });
    children.push(child);
  }
  const touch = (share) =>
    Promise.all(
      children.map(
        (c) =>
          new Promise((done) => {
            c.once('message', done);
            c.send({ op: 'touch', share });
          }),
      ),
    );
  const stop = () => Promise.all(children.map((c) => new Promise((done) => c.once('exit', done) && c.disconnect())));
  return { touch, stop };
}

for (const series of SERIES) {
  for (const workers of WORKERS) {
    const sides = {};
    for (const [side, root] of [
      ['current', HERE],
      ['baseline', BASELINE],
    ]) {
      const dir = mkdtempSync(join(tmpdir(), 'bench-http-scrape-'));
      const writers = await startWriters(root, dir, workers, series);
      sides[side] = { dir, writers, ...(await startAggregator(root, dir)) };
    }
    let expected = workers * series * COUNTER_INC;
    try {
      for (const format of Object.keys(FORMATS)) {
        // Untimed: a few scrapes of each side in this format first, as a running aggregator has had (its
        // scrape path compiled, not interpreted) and so that this client's own first requests are not timed.
        for (let i = 0; i < WARMUP; i++) for (const side of Object.keys(sides)) await scrape(sides[side].url, format);
        for (const scenario of SCENARIOS) {
          const reps = series >= 100000 ? 5 : series >= 10000 ? 11 : 31;
          const ms = { current: [], baseline: [] };
          const cpu = { current: [], baseline: [] };
          const bytes = { current: 0, baseline: 0 };
          for (let round = 0; round < reps + 1; round++) {
            if (scenario.share > 0) {
              const [touched] = await Promise.all([
                sides.current.writers.touch(scenario.share),
                sides.baseline.writers.touch(scenario.share),
              ]);
              expected += touched.reduce((n, t) => n + t.n, 0) * COUNTER_INC;
            }
            const order = round % 2 ? ['baseline', 'current'] : ['current', 'baseline'];
            for (const side of order) {
              const before = sides[side].cpuMs();
              const r = await scrape(sides[side].url, format);
              // Until the aggregator is idle again: what it does after answering (this build folds the
              // store's delta log then) is the scrape's cost too.
              const cpuMs = (await idleCpuMs(sides[side])) - before;
              if (round === 0) {
                // Not timed: both must serve everything, compressed (a fast but incomplete answer is no result).
                const text = gunzipSync(r.body).toString('utf8');
                const total = counterTotal(text);
                if (!r.gzip || total !== expected)
                  throw new Error(`${side} ${format}: total ${total}, expected ${expected}`);
                continue;
              }
              ms[side].push(r.ms);
              cpu[side].push(cpuMs);
              bytes[side] = r.body.length;
            }
          }
          const record = {
            bench: 'http-scrape',
            format,
            workers,
            series,
            changed: scenario.name,
            currentMs: round(median(ms.current)),
            baselineMs: round(median(ms.baseline)),
            // /proc counts CPU in 10 ms ticks: the mean over the reps, not a median of mostly 0 or 10.
            currentCpuMs: round(cpu.current.reduce((a, b) => a + b, 0) / reps),
            baselineCpuMs: round(cpu.baseline.reduce((a, b) => a + b, 0) / reps),
            currentGzipBytes: bytes.current,
            baselineGzipBytes: bytes.baseline,
            reps,
          };
          emit(record);
          process.stderr.write(
            `W=${workers} S=${series} ${format} ${scenario.name}: this build ${record.currentMs} ms (cpu ${record.currentCpuMs}), baseline ${record.baselineMs} ms (cpu ${record.baselineCpuMs})\n`,
          );
        }
      }
      emit({
        bench: 'http-scrape-memory',
        workers,
        series,
        currentRssMb: round(sides.current.rssMb(), 1),
        baselineRssMb: round(sides.baseline.rssMb(), 1),
      });
      process.stderr.write(
        `W=${workers} S=${series} aggregator RSS: this build ${round(sides.current.rssMb(), 1)} MB, baseline ${round(sides.baseline.rssMb(), 1)} MB\n`,
      );
    } finally {
      for (const side of Object.values(sides)) {
        await side.stop();
        await side.writers.stop();
        rmSync(side.dir, { recursive: true, force: true });
      }
    }
  }
}
