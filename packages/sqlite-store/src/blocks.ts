/**
 * The stored families, rendered by block and kept between scrapes (issue 17): a scrape after a change reads
 * and renders only the blocks of series whose stamp moved (stamps.ts), and hands the exposition over as
 * chunks whose version changes only with their text, so that the aggregator compresses only those again.
 *
 * - A block is BLOCK_SIZE consecutive series ids; it is rendered per metric (the series of two metrics can
 *   share a block), each piece written as UTF-8 into one buffer (utf8-writer.ts). Series keep their id order
 *   within a family, as before.
 * - A chunk is a family's pieces of 2^GROUP_BITS consecutive blocks, the first one led by the family's
 *   `# HELP`/`# TYPE` lines (a family without series is its header alone; a gauge without values is left
 *   out, header too, as before).
 * - Rendered again: every block when the format, the connection (another file) or the stamp of everything
 *   changed; a block whose stamp moved; the blocks of a metric whose definition changed; every block holding
 *   gauges when the gauges' stamp moved or another set of writers is alive (live modes); every block of a
 *   per-process gauge when one of them is (its process label depends on all its series).
 */
import { Overlay } from './delta-log.js';
import { type ExemplarRow, exemplarsBySeries } from './exemplars.js';
import type { WriterView } from './gc.js';
import { type GaugeRow, processLabel } from './merge.js';
import {
  type Exemplars,
  familyHeader,
  gaugeValuesOf,
  type MetricInfo,
  type MetricRow,
  metricInfo,
  NO_EXEMPLARS,
  renderSamples,
  type SeriesRow,
} from './render.js';
import { ALL_BLOCKS, BLOCK_BITS, BLOCK_SIZE, GAUGE_BLOCKS } from './stamps.js';
import type { Statements } from './statements.js';
import type { ExpositionFormat, ScrapeChunk } from './types.js';
import { Utf8Writer } from './utf8-writer.js';

/** Blocks per chunk: 2 blocks of 64 ids, at most 128 series (about 180 KB of an 11-bucket histogram). */
export const GROUP_BITS = 1;

/**
 * The stored families are handed out as chunks (`ScrapeChunk`): parts in exposition order, as the UTF-8
 * pieces they are made of; the same version means the same bytes. A piece is written once, when its block
 * is rendered, and kept as bytes: a scrape hands the same buffers out again (no string is joined,
 * flattened or encoded per scrape). A chunk's `text` decodes each piece the first time a caller asks for
 * text and keeps it from then on (a server that sends the bytes never holds the exposition twice;
 * `metrics()` decodes only what changed).
 */
interface Piece {
  bytes: Buffer;
  version: number;
  text?: string;
}

interface Block {
  stamp: number;
  /** By metric id: the metrics with series in the block (no bytes for a gauge without values). */
  pieces: Map<number, Piece>;
}

/** What one read transaction rendered: the pieces of the blocks it read again, not yet compared with the kept ones. */
export interface BlockRead {
  format: ExpositionFormat;
  generation: number;
  metrics: MetricInfo[];
  stamps: Map<number, number>;
  live: string;
  /** The blocks read and rendered (undefined: every block). */
  blocks: Set<number> | undefined;
  /** By block, then metric id: the UTF-8 text of its samples (a block read without rows is absent). */
  rendered: Map<number, Map<number, Buffer>>;
  /** The last row of the delta log it showed, if it held any (fold up to it: `adoptFold`). */
  logUpTo: number | undefined;
}

/**
 * Blocks read and rendered per statement. A scrape used to read every row it renders first, and the rows
 * lived until the last of them was rendered: at S=100000 with everything changed, the young-generation
 * collections that copied them cost about a third of the scrape. Rendered a range at a time, they die young.
 */
const READ_BLOCKS = 16;

export class BlockRenderer {
  private format: ExpositionFormat | undefined;
  private generation = -1;
  private all = -1;
  private gaugesStamp = -1;
  private live = '';
  private signatures = new Map<number, string>();
  private blocks = new Map<number, Block>();
  private chunks = new Map<string, { sig: string; version: number }>();
  private versions = 0;
  private chunkList: number[] = [];

  /**
   * Inside the scrape's read transaction: decide what to render again, read its rows and render them.
   * Nothing kept changes until `render()`, so a read that fails leaves the kept blocks as they were.
   * `generation` is the connection's (another file: nothing rendered before holds).
   */
  read(s: Statements, format: ExpositionFormat, generation: number, writers: WriterView[]): BlockRead {
    const metrics = (s.readMetrics.all() as MetricRow[]).map(metricInfo);
    const stamps = new Map(s.readStamps.all() as [number, number][]);
    let live = '';
    for (const w of writers) if (w.alive) live += `${w.row.id},`;
    const openMetrics = format === 'openmetrics';
    const byId = new Map(metrics.map((m) => [m.id, m]));
    const full = format !== this.format || generation !== this.generation || (stamps.get(ALL_BLOCKS) ?? 0) !== this.all;
    const dirty = full ? undefined : this.dirtyBlocks(stamps, byId, live);
    // What writers logged and nobody folded yet is added to the rows it is for (delta-log.ts), so a scrape
    // shows every committed flush without the write lock; their blocks are rendered again.
    const overlay = Overlay.read(s);
    if (overlay && dirty) for (const id of overlay.ids()) dirty.add(id >> BLOCK_BITS);
    // A per-process gauge's label for the process depends on every series of the metric: all its blocks are
    // rendered again when one is, and its label is decided only then.
    const pidLabels = new Map<number, string>();
    for (const m of metrics) {
      if (m.type !== 'gauge' || !m.mode.perProcess) continue;
      const rows = s.readMetricSeries.all(m.id) as [number, string][];
      if (dirty !== undefined) {
        const held = new Set(rows.map((r) => r[0] >> BLOCK_BITS));
        for (const [block, { pieces }] of this.blocks) if (pieces.has(m.id)) held.add(block);
        if (![...held].some((b) => dirty.has(b))) continue;
        for (const b of held) dirty.add(b);
      }
      pidLabels.set(m.id, processLabel(rows.map((r) => r[1])));
    }
    const viewById = new Map<number, WriterView>();
    for (const w of writers) viewById.set(w.row.id, w);
    const rendered = new Map<number, Map<number, Buffer>>();
    const out = new Utf8Writer();
    const renderRange = (lo: number, hi: number) => {
      const series = s.readSeriesRange.all(lo, hi) as SeriesRow[];
      if (series.length === 0) return;
      if (overlay) {
        for (const r of series) {
          r[3] += overlay.value(r[1]);
          const vector = overlay.vector(r[1], r[4] as string);
          if (vector) r[4] = vector;
        }
      }
      const ctx = {
        openMetrics,
        gaugeValues: gaugeValuesOf(s.readGaugesRange.all(lo, hi) as GaugeRow[]),
        writers: viewById,
        // Only OpenMetrics has exemplars: a text-format scrape does not read them.
        exemplars: openMetrics
          ? (exemplarsBySeries(s.readExemplarsRange.all(lo, hi) as ExemplarRow[]) as Exemplars)
          : NO_EXEMPLARS,
      };
      // Rows come by id: a block's rows are consecutive, a metric's keep their order within it.
      for (let i = 0; i < series.length; ) {
        const block = (series[i] as SeriesRow)[1] >> BLOCK_BITS;
        const byMetric = new Map<number, SeriesRow[]>();
        for (; i < series.length && (series[i] as SeriesRow)[1] >> BLOCK_BITS === block; i++) {
          const r = series[i] as SeriesRow;
          const list = byMetric.get(r[0]);
          if (list) list.push(r);
          else byMetric.set(r[0], [r]);
        }
        const pieces = new Map<number, Buffer>();
        for (const [id, rows] of byMetric) {
          const m = byId.get(id);
          if (!m) continue; // a series of a metric row that is gone (not rendered, as before)
          renderSamples(m, rows, ctx, pidLabels.get(id) ?? 'pid', out);
          pieces.set(id, out.take());
        }
        rendered.set(block, pieces);
      }
    };
    const step = READ_BLOCKS * BLOCK_SIZE;
    if (dirty === undefined) {
      // Every block: from each existing id on, READ_BLOCKS blocks at a time (ids may have gaps).
      for (let lo = 0; ; ) {
        const next = s.nextSeriesId.get(lo) as number | null;
        if (next === null) break;
        const from = (next >> BLOCK_BITS) * BLOCK_SIZE;
        renderRange(from, from + step);
        lo = from + step;
      }
    } else {
      for (const [first, end] of ranges(dirty)) {
        for (let b = first; b < end; b += READ_BLOCKS)
          renderRange(b * BLOCK_SIZE, Math.min(b + READ_BLOCKS, end) * BLOCK_SIZE);
      }
    }
    return { format, generation, metrics, stamps, live, blocks: dirty, rendered, logUpTo: overlay?.last };
  }

  /**
   * A fold of the delta log up to the rows a kept rendering showed moved the stamps of the blocks it changed
   * (`before`: block to stamp before the fold) by one: a kept block whose stamp was `before` shows the folded
   * values already, and keeps its rendering. Any other change of the block moved its stamp too (it is then
   * rendered again).
   */
  adoptFold(generation: number, before: Map<number, number>): void {
    if (generation !== this.generation) return;
    for (const [block, stamp] of before) {
      const kept = this.blocks.get(block);
      if (kept !== undefined && kept.stamp === stamp) kept.stamp = stamp + 1;
    }
  }

  /** The kept blocks to render again: stamp moved, a definition changed, or gauges whose merge moved. */
  private dirtyBlocks(stamps: Map<number, number>, byId: Map<number, MetricInfo>, live: string): Set<number> {
    const dirty = new Set<number>();
    for (const [block, stamp] of stamps) if (block >= 0 && this.blocks.get(block)?.stamp !== stamp) dirty.add(block);
    const gaugesMoved = (stamps.get(GAUGE_BLOCKS) ?? 0) !== this.gaugesStamp || live !== this.live;
    for (const [block, { pieces }] of this.blocks) {
      for (const id of pieces.keys()) {
        const m = byId.get(id);
        if (m === undefined || m.signature !== this.signatures.get(id) || (gaugesMoved && m.type === 'gauge')) {
          dirty.add(block);
          break;
        }
      }
    }
    return dirty;
  }

  /** After the read transaction: keep what it rendered and return the stored families as chunks. */
  render(read: BlockRead): { chunks: ScrapeChunk[]; changed: boolean } {
    const openMetrics = read.format === 'openmetrics';
    // A piece whose text came out the same keeps its version (its chunk need not be compressed again).
    const previous = this.blocks;
    if (read.blocks === undefined) this.blocks = new Map();
    const blocks = read.blocks ?? read.rendered.keys();
    for (const block of blocks) {
      const before = previous.get(block);
      const pieces = new Map<number, Piece>();
      for (const [id, bytes] of read.rendered.get(block) ?? []) {
        const old = before?.pieces.get(id);
        pieces.set(id, old?.bytes.equals(bytes) ? old : { bytes, version: ++this.versions });
      }
      this.blocks.set(block, { stamp: read.stamps.get(block) ?? 0, pieces });
    }
    if (read.blocks === undefined) {
      // Blocks stamped but without rows now: nothing to render, nothing to read again until their stamp moves.
      for (const [block, stamp] of read.stamps)
        if (block >= 0 && !this.blocks.has(block)) this.blocks.set(block, { stamp, pieces: new Map() });
    }
    this.format = read.format;
    this.generation = read.generation;
    this.all = read.stamps.get(ALL_BLOCKS) ?? 0;
    this.gaugesStamp = read.stamps.get(GAUGE_BLOCKS) ?? 0;
    this.live = read.live;
    this.signatures = new Map(read.metrics.map((m) => [m.id, m.signature]));
    return this.assemble(read.metrics, openMetrics);
  }

  /** The families in metric id order, each as the chunks of its blocks in id order. */
  private assemble(metrics: MetricInfo[], openMetrics: boolean): { chunks: ScrapeChunk[]; changed: boolean } {
    const order = [...this.blocks.keys()].sort((a, b) => a - b);
    const perMetric = new Map<number, Array<[number, Piece]>>();
    for (const block of order) {
      for (const [id, piece] of (this.blocks.get(block) as Block).pieces) {
        if (piece.bytes.length === 0) continue;
        const list = perMetric.get(id);
        if (list) list.push([block, piece]);
        else perMetric.set(id, [[block, piece]]);
      }
    }
    const chunks: ScrapeChunk[] = [];
    const used = new Map<string, { sig: string; version: number }>();
    const emit = (key: string, header: string, pieces: Piece[]) => {
      let sig = header;
      for (const p of pieces) sig += `,${p.version}`;
      const known = this.chunks.get(key);
      const chunk = known?.sig === sig ? known : { sig, version: ++this.versions };
      used.set(key, chunk);
      const bytes: Buffer[] = header ? [Buffer.from(header, 'utf8')] : [];
      for (const p of pieces) bytes.push(p.bytes);
      chunks.push({
        version: chunk.version,
        bytes,
        get text() {
          let out = header;
          for (const p of pieces) {
            p.text ??= p.bytes.toString('utf8');
            out += p.text;
          }
          return out;
        },
      });
    };
    for (const m of metrics) {
      const list = perMetric.get(m.id) ?? [];
      if (list.length === 0 && m.type === 'gauge') continue; // no process reports it (any more)
      let header = familyHeader(m, openMetrics);
      if (list.length === 0) emit(`${m.id}`, header, []);
      let group: Piece[] = [];
      for (let i = 0; i < list.length; i++) {
        const [block, piece] = list[i] as [number, Piece];
        group.push(piece);
        const next = list[i + 1];
        if (next === undefined || next[0] >> GROUP_BITS !== block >> GROUP_BITS) {
          emit(`${m.id}:${block >> GROUP_BITS}`, header, group);
          header = '';
          group = [];
        }
      }
    }
    this.chunks = used;
    const versions = chunks.map((c) => c.version);
    const changed = versions.length !== this.chunkList.length || versions.some((v, i) => v !== this.chunkList[i]);
    this.chunkList = versions;
    return { chunks, changed };
  }
}

/** Sorted runs of consecutive block numbers, as [first, last + 1). */
function ranges(blocks: Iterable<number>): Array<[number, number]> {
  const sorted = [...blocks].sort((a, b) => a - b);
  const out: Array<[number, number]> = [];
  for (const b of sorted) {
    const last = out.at(-1);
    if (last && last[1] === b) last[1] = b + 1;
    else out.push([b, b + 1]);
  }
  return out;
}
