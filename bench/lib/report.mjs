/** The issue #3 targets, checked against the measurements, and the human-readable table. */
import { round } from './stats.mjs';

/**
 * Each target as { name, value, limit, pass }; `pass` is null when the run did not measure it.
 *
 * @example
 * evaluateTargets(records).filter((t) => t.pass === false);
 */
export function evaluateTargets(records) {
  const scrape = records.filter((r) => r.bench === 'scrape');
  const cell = (w, s) => scrape.find((r) => r.W === w && r.S === s);
  const targets = [];
  const w8 = cell(8, 1000);
  targets.push({
    name: 'scrape W=8 S=1000: AggregatorRegistry / store.metrics() (design goal 40)',
    value: w8?.ratio ?? null,
    limit: '>= 20',
    pass: w8?.ratio == null ? null : w8.ratio >= 20,
  });
  for (const r of records.filter((x) => x.bench === 'scrape-scaling')) {
    const v = r.storeMs?.[32] && r.storeMs?.[2] ? r.ratio : null;
    targets.push({
      name: `scrape S=${r.S}: store.metrics() at W=32 / W=2`,
      value: v,
      limit: '<= 1.3',
      pass: v === null ? null : v <= 1.3,
    });
  }
  const rec = records.find((r) => r.bench === 'record');
  targets.push({
    name: 'record: store attached / prom-client alone',
    value: rec?.ratio ?? null,
    limit: '<= 1.05',
    pass: rec ? rec.ratio <= 1.05 : null,
  });
  // With the deployment's aggregator beside the worker (it folds the delta log), as the bench runs by default.
  const flushOf = (S, changed) =>
    records.find(
      (r) => r.bench === 'flush' && r.build !== 'base' && r.S === S && r.changed === changed && r.aggregator !== false,
    );
  for (const changed of ['all', '10%']) {
    const f = flushOf(1000, changed);
    targets.push({
      name: `flush S=1000 (${changed} series changed per interval): % of one core`,
      value: f?.pctOfCore ?? null,
      limit: '<= 1',
      pass: f ? f.pctOfCore <= 1 : null,
    });
  }
  // Issue 17, S=10000.
  for (const [changed, limit] of [
    ['none', 0.05],
    ['10%', 0.3],
    ['all', 2],
  ]) {
    const f = flushOf(10000, changed);
    targets.push({
      name: `flush S=10000 (${changed} series changed per interval): % of one core`,
      value: f?.pctOfCore ?? null,
      limit: `<= ${limit}`,
      pass: f ? f.pctOfCore <= limit : null,
    });
  }
  const f100k = flushOf(100000, '10%');
  targets.push({
    name: 'flush S=100000 (10% series changed per interval): % of one core',
    value: f100k?.pctOfCore ?? null,
    limit: '<= 5',
    pass: f100k ? f100k.pctOfCore <= 5 : null,
  });
  targets.push({
    name: 'store file at S=100000 / the raw numbers it holds',
    value: f100k?.fileVsRaw ?? null,
    limit: '<= 2',
    pass: f100k?.fileVsRaw == null ? null : f100k.fileVsRaw <= 2,
  });
  for (const [changed, limit] of [
    ['none', 5],
    ['10%', 30],
    ['all', 120],
  ]) {
    for (const format of ['prometheus', 'openmetrics']) {
      const h = records.find(
        (r) =>
          r.bench === 'http-scrape' &&
          r.workers === 8 &&
          r.series === 10000 &&
          r.format === format &&
          r.changed === changed,
      );
      targets.push({
        name: `HTTP scrape with gzip, W=8 S=10000, ${format}, ${changed} changed: median ms`,
        value: h?.currentMs ?? null,
        limit: `<= ${limit}`,
        pass: h ? h.currentMs <= limit : null,
      });
    }
  }
  const ex = records.find((r) => r.bench === 'express-throughput');
  targets.push(
    {
      name: 'Express, one process: @kci-metrics/express + store / metrics off (throughput)',
      value: ex?.kciVsOff ?? null,
      limit: '>= 0.97',
      pass: ex ? ex.kciVsOff >= 0.97 : null,
    },
    {
      name: 'Express, one process: @kci-metrics/express + store / express-prom-bundle (throughput)',
      value: ex?.kciVsPromBundle ?? null,
      limit: '>= 1.2',
      pass: ex ? ex.kciVsPromBundle >= 1.2 : null,
    },
  );
  return targets;
}

/** A server's CPU time per request, and the throughput ratio to off it predicts (older records: none). */
function cpuCell(us, vsOff) {
  if (us == null) return '-';
  return vsOff == null ? `${us} µs` : `${us} µs (off / this: ${vsOff}x)`;
}

/** Plain-text tables for stderr (and for pasting into a README). */
export function formatTable(records, machine, summary) {
  const lines = [];
  const ex = records.find((r) => r.bench === 'express-throughput');
  lines.push(
    `Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memGb} GB, Node ${machine.node}, ${machine.os}`,
  );
  lines.push(
    '',
    `Load average at start ${machine.loadavgAtStart.join(' ')}, at end ${summary.loadavgAtEnd.join(' ')}; ${summary.seconds} s`,
  );
  const scrape = records.filter((r) => r.bench === 'scrape').sort((a, b) => a.S - b.S || a.W - b.W);
  if (scrape.length) {
    lines.push('', '| W | S | store.metrics() | AggregatorRegistry | ratio |', '|---|---|---|---|---|');
    for (const r of scrape) {
      const agg =
        r.aggregatorMs != null ? ms(r.aggregatorMs) : r.aggregatorError ? `failed: ${r.aggregatorError}` : 'skipped';
      lines.push(`| ${r.W} | ${r.S} | ${ms(r.storeMs)} | ${agg} | ${r.ratio != null ? `${r.ratio}x` : '-'} |`);
    }
  }
  const scaling = records.filter((r) => r.bench === 'scrape-scaling');
  if (scaling.length) {
    const ws = Object.keys(scaling[0].storeMs);
    lines.push(
      '',
      `| S | ${ws.map((w) => `store.metrics() W=${w}`).join(' | ')} | ${scaling[0].ratioOf} | ratio of the minimums |`,
      `|---|${ws.map(() => '---|').join('')}---|---|`,
    );
    for (const r of scaling) {
      lines.push(
        `| ${r.S} | ${ws.map((w) => `${ms(r.storeMs[w])} (min ${ms(r.storeMinMs[w])})`).join(' | ')} | ${r.ratio}x | ${r.ratioOfMins}x |`,
      );
    }
  }
  const rec = records.find((r) => r.bench === 'record');
  if (rec) {
    lines.push('', '| record (counter inc + histogram observe) | ns per op |', '|---|---|');
    lines.push(
      `| prom-client alone | ${rec.promClientNsPerOp} |`,
      `| store attached | ${rec.storeNsPerOp} (${rec.ratio}x; noise floor: a second prom-client-only registry ${rec.controlRatio}x) |`,
    );
  }
  const flush = records.filter((r) => r.bench === 'flush');
  if (flush.length) {
    lines.push(
      '',
      '| flush | build | aggregator | series changed per interval | CPU ms per flush (mean) | median | % of one core at 1000 ms | store file MB (x raw numbers; WAL MB) |',
      '|---|---|---|---|---|---|---|---|',
    );
    for (const r of flush)
      lines.push(
        `| S=${r.S} | ${r.build ?? 'current'} | ${r.aggregator === false ? 'none' : 'yes'} | ${r.changed} (${r.changedSeries}) | ${r.cpuMsPerFlush} | ${r.cpuMsMedian} | ${r.pctOfCore}% | ${r.fileMB ?? '-'} (${r.fileVsRaw ?? '-'}x; ${r.walMB ?? '-'}) |`,
      );
  }
  const http = records.filter((r) => r.bench === 'http-scrape');
  if (http.length) {
    lines.push(
      '',
      '| HTTP scrape, gzip | W | S | changed | this build: median ms (aggregator CPU ms) | baseline | gzip bytes |',
      '|---|---|---|---|---|---|---|',
    );
    for (const r of http)
      lines.push(
        `| ${r.format} | ${r.workers} | ${r.series} | ${r.changed} | ${ms(r.currentMs)} (${r.currentCpuMs}) | ${ms(r.baselineMs)} (${r.baselineCpuMs}) | ${r.currentGzipBytes} vs ${r.baselineGzipBytes} |`,
      );
    for (const r of records.filter((x) => x.bench === 'http-scrape-memory'))
      lines.push(`| aggregator RSS | ${r.workers} | ${r.series} | | ${r.currentRssMb} MB | ${r.baselineRssMb} MB | |`);
  }
  const memory = records.filter((r) => r.bench === 'worker-memory');
  if (memory.length) {
    lines.push(
      '',
      '| worker memory (after GC) | prom-client alone: RSS (heap) | store attached | extra |',
      '|---|---|---|---|',
    );
    for (const r of memory)
      lines.push(
        `| S=${r.S} | ${r.aloneRssMb} MB (${r.aloneHeapMb} MB) | ${r.storeRssMb} MB (${r.storeHeapMb} MB) | +${r.extraRssMb} MB RSS, +${r.extraHeapMb} MB heap${r.baseRssMb != null ? `; base build +${r.baseExtraRssMb} MB RSS` : ''} |`,
      );
  }
  if (ex) {
    lines.push(
      '',
      `| Express, one process${ex.pinned ? ' (server and client pinned to their own cores)' : ''} | req/s (median of blocks) | vs off | server CPU per request |`,
      '|---|---|---|---|',
      `| metrics off | ${ex.offRps} | 1 | ${cpuCell(ex.offCpuUs)} |`,
      `| express-prom-bundle | ${ex.promBundleRps} | ${ex.promBundleVsOff}x (${ex.promBundleVsOffRange.join('-')}) | ${cpuCell(ex.promBundleCpuUs, ex.promBundleVsOffByCpu)} |`,
      `| @kci-metrics/express + store | ${ex.kciRps} | ${ex.kciVsOff}x (${ex.kciVsOffRange.join('-')}); ${ex.kciVsPromBundle}x express-prom-bundle | ${cpuCell(ex.kciCpuUs, ex.kciVsOffByCpu)} |`,
      ...(ex.floorRps == null
        ? []
        : [
            `| the floor: a minimal recorder of our design (reference, not shipped) | ${ex.floorRps} | ${ex.floorVsOff}x (${ex.floorVsOffRange.join('-')}) | ${cpuCell(ex.floorCpuUs, ex.floorVsOffByCpu)} |`,
          ]),
    );
  }
  lines.push('', 'Targets:');
  for (const t of summary.targets) {
    const verdict = t.pass === null ? 'not measured' : t.pass ? 'PASS' : 'MISS';
    lines.push(`  ${verdict.padEnd(12)} ${t.name}: ${t.value ?? '-'} (target ${t.limit})`);
  }
  return lines.join('\n');
}

function ms(value) {
  return value >= 1000 ? `${round(value / 1000, 2)} s` : `${round(value, value < 10 ? 2 : 1)} ms`;
}
