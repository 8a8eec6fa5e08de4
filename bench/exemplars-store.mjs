/**
 * exemplars-store: what exemplars (issue 16 §1) cost the store, side by side in one process. Two stores in
 * temp dirs, each with one histogram of S series (default 1000, 11 buckets): `plain` without exemplars,
 * `exemplars` with `enableExemplars: true` and an exemplar on every observation. Each round observes every
 * series once on both, flushes both (all series changed), flushes both again (nothing changed), and scrapes
 * both in OpenMetrics; the order of the two sides alternates per round. Prints one JSON line: medians in
 * ms and the ratio exemplars/plain of each.
 *
 *   node bench/exemplars-store.mjs    (after `pnpm build`; BENCH_EXEMPLAR_SERIES, BENCH_EXEMPLAR_ROUNDS)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { countingLogger, loadStore, promClient } from './lib/deps.mjs';
import { emit, envInt, median, QUICK, round } from './lib/stats.mjs';

const { openStore } = await loadStore();
const SERIES = envInt('BENCH_EXEMPLAR_SERIES', 1000);
const ROUNDS = envInt('BENCH_EXEMPLAR_ROUNDS', QUICK ? 8 : 30);

function side(withExemplars) {
  const dir = mkdtempSync(join(tmpdir(), 'kci-bench-exemplars-'));
  const registry = new promClient.Registry();
  if (withExemplars) registry.setContentType(promClient.Registry.OPENMETRICS_CONTENT_TYPE);
  const histogram = new promClient.Histogram({
    name: 'http_request_duration_seconds',
    help: 'Latency',
    labelNames: ['route'],
    enableExemplars: withExemplars,
    registers: [registry],
  });
  const store = openStore({ dir, flushIntervalMs: 3_600_000, logger: countingLogger() });
  store.attach(registry);
  const routes = Array.from({ length: SERIES }, (_, i) => ({ route: `/api/r${i}/:id` }));
  let n = 0;
  const observe = withExemplars
    ? () => {
        for (const labels of routes) {
          n++;
          histogram.observe({
            labels,
            value: (n % 97) / 100,
            exemplarLabels: { trace_id: n.toString(16).padStart(32, '0') },
          });
        }
      }
    : () => {
        for (const labels of routes) histogram.observe(labels, (++n % 97) / 100);
      };
  return { dir, store, observe, times: { changed: [], idle: [], scrape: [] } };
}

const time = (f) => {
  const start = performance.now();
  f();
  return performance.now() - start;
};
const timeAsync = async (f) => {
  const start = performance.now();
  await f();
  return performance.now() - start;
};

const sides = { plain: side(false), exemplars: side(true) };
for (const s of Object.values(sides)) {
  s.observe();
  s.store.flush(); // the series rows exist before the rounds
}
for (let r = 0; r < ROUNDS; r++) {
  const order = r % 2 === 0 ? ['plain', 'exemplars'] : ['exemplars', 'plain'];
  for (const name of order) {
    const s = sides[name];
    s.observe();
    s.times.changed.push(time(() => s.store.flush()));
    s.times.idle.push(time(() => s.store.flush()));
    s.times.scrape.push(await timeAsync(() => s.store.metrics({ format: 'openmetrics' })));
  }
}
const body = await sides.exemplars.store.metrics({ format: 'openmetrics' });
const result = {
  bench: 'exemplars-store',
  series: SERIES,
  rounds: ROUNDS,
  exemplarsServed: body.split(' # {').length - 1,
};
for (const what of ['changed', 'idle', 'scrape']) {
  const p = median(sides.plain.times[what]);
  const e = median(sides.exemplars.times[what]);
  result[`${what}Ms`] = { plain: round(p), exemplars: round(e), ratio: round(e / p, 2) };
}
for (const s of Object.values(sides)) {
  s.store.close();
  rmSync(s.dir, { recursive: true, force: true });
}
emit(result);
