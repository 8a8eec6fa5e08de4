/**
 * exemplars: nanoseconds per recorded request on the adapters' record path (core's recorder, as the Koa
 * and Express middleware drive it: `start(method)` when a request arrives, `end({ route, statusCode, ctx })`
 * when its response is over), for the `exemplars` option of issue 16 §1, side by side in one process:
 *
 * - `none`: no option (the path every existing user has);
 * - `undefinedLabels`: the option set, but the function returns undefined (requests without a traceparent);
 * - `traced`: the option set, every request has a traceparent, so every observation carries an exemplar;
 * - `control`: a second recorder without the option, the noise floor.
 *
 * The function parses the W3C traceparent header of the context, like the demo's. Rounds of 2000 requests
 * rotate through the orders of the sides; the event loop runs between rounds. Each ratio is the median of
 * the per-round ratios to `none`. Prints one JSON line.
 *
 *   node bench/exemplars.mjs        (after `pnpm build`; BENCH_EXEMPLARS_MS, default 10000, 3000 with BENCH_QUICK=1)
 */
import { emit, envInt, median, QUICK, round, yieldToLoop } from './lib/stats.mjs';

const { createHttpRecorder } = await import(new URL('../packages/core/dist/index.js', import.meta.url).href);

const DURATION_MS = envInt('BENCH_EXEMPLARS_MS', QUICK ? 3000 : 10000);
const OPS_PER_ROUND = 2_000;
const ROUTES = Array.from({ length: 20 }, (_, i) => `/api/route${i}/:id`);
const METHODS = ['GET', 'GET', 'GET', 'POST'];
const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/;
const exemplars = (ctx) => {
  const traceId = TRACEPARENT.exec(ctx.headers.traceparent ?? '')?.[1];
  return traceId === undefined ? undefined : { trace_id: traceId };
};
const hex = (n, i) => i.toString(16).padStart(8, '0').repeat(8).slice(0, n);
const traced = Array.from({ length: 64 }, (_, i) => ({
  headers: { traceparent: `00-${hex(32, i + 1)}-${hex(16, i + 7)}-01` },
}));
const untraced = [{ headers: {} }];

const sides = {
  none: { recorder: createHttpRecorder({}), contexts: traced },
  undefinedLabels: { recorder: createHttpRecorder({ exemplars }), contexts: untraced },
  traced: { recorder: createHttpRecorder({ exemplars }), contexts: traced },
  control: { recorder: createHttpRecorder({}), contexts: traced },
};
const names = Object.keys(sides);
const orders = names.map((_, i) => [...names.slice(i), ...names.slice(0, i)]);

let i = 0;
function round_(side) {
  const { recorder, contexts } = sides[side];
  const start = process.hrtime.bigint();
  for (let n = 0; n < OPS_PER_ROUND; n++, i++) {
    const timer = recorder.start(METHODS[i & 3]);
    timer.end({ route: ROUTES[i % ROUTES.length], statusCode: 200, ctx: contexts[i % contexts.length] });
  }
  return Number(process.hrtime.bigint() - start) / OPS_PER_ROUND;
}

const samples = Object.fromEntries(names.map((n) => [n, []]));
for (let warm = 0; warm < 20; warm++) for (const side of names) round_(side);
const until = Date.now() + DURATION_MS;
let rounds = 0;
while (Date.now() < until) {
  const ns = {};
  for (const side of orders[rounds % orders.length]) ns[side] = round_(side);
  for (const side of names) samples[side].push(ns[side]);
  rounds++;
  await yieldToLoop();
}

// every side recorded what it was given: the exemplars are there only where expected
const exemplarLines = async (recorder) =>
  (await recorder.registry.metrics()).split('\n').filter((l) => l.includes(' # {trace_id=')).length;
const ratio = (side) => round(median(samples[side].map((v, r) => v / samples.none[r])), 3);
emit({
  bench: 'exemplars',
  rounds,
  opsPerRound: OPS_PER_ROUND,
  nsPerRequest: Object.fromEntries(names.map((n) => [n, round(median(samples[n]), 1)])),
  ratioToNone: { undefinedLabels: ratio('undefinedLabels'), traced: ratio('traced'), control: ratio('control') },
  exemplarLines: {
    undefinedLabels: await exemplarLines(sides.undefinedLabels.recorder),
    traced: await exemplarLines(sides.traced.recorder),
  },
});
