import { constants, gzipSync } from 'node:zlib';
import type { ExpositionFormat, MetricsStore, Scrape, ScrapeChunk } from '@kci-metrics/sqlite-store';
import { StoreError } from '@kci-metrics/sqlite-store';
import { selfMetricFamilies } from './self-metrics.js';
import type { StoreWatch } from './store-watch.js';

/**
 * One chunk of the stored families (the store's `parts.chunks`), compressed at most once. The store hands
 * back the same version while the chunk's bytes are unchanged (issue 17), so a scrape compresses only the
 * chunks of series that changed, and an idle host's scrapes compress nothing.
 */
class StoredChunk {
  private gzipped: Buffer | undefined;

  constructor(readonly version: number) {}

  /** Its gzip member, if compressed already. */
  get member(): Buffer | undefined {
    return this.gzipped;
  }

  /** Compress it; `source` is the chunk in the scrape that asks (the same bytes for the same version). */
  gzip(source: ScrapeChunk): Buffer {
    const bytes = source.bytes;
    this.gzipped ??= compress(bytes.length === 1 ? (bytes[0] as Buffer) : joined(bytes));
    return this.gzipped;
  }
}

/**
 * Where a chunk's pieces are put together to be compressed, reused from chunk to chunk and scrape to
 * scrape. `Buffer.concat` took fresh memory for every chunk: at S=100000 with every series changed, 140 MB
 * a scrape, whose page faults cost about 120 ms of the compression's 420 ms (2 cores, a VM).
 */
let joinBuffer = Buffer.allocUnsafeSlow(256 * 1024);

/** `parts` one after the other, in `joinBuffer` (valid until the next call). */
function joined(parts: readonly Buffer[]): Buffer {
  let length = 0;
  for (const part of parts) length += part.length;
  if (length > joinBuffer.length) joinBuffer = Buffer.allocUnsafeSlow(Math.max(length, 2 * joinBuffer.length));
  let at = 0;
  for (const part of parts) {
    joinBuffer.set(part, at);
    at += part.length;
  }
  return joinBuffer.subarray(0, length);
}

/**
 * Fastest level: on a 1.2 MB exposition it takes 4 ms instead of 22 ms (level 6) for a body 15% larger
 * (42 KB instead of 36 KB); CPU on the monitored host matters more than a few KB on the network.
 *
 * In the event loop, chunk by chunk (at most about 180 KB each, well under a millisecond), yielding every
 * YIELD_EVERY chunks. zlib's thread pool cost more than the compression itself: at S=10000 with every
 * series changed (157 chunks, 14 MB, 15-20 ms of zlib in place), the aggregator spent 147 ms of CPU per
 * scrape with the pool and 125 ms without, side by side (2 cores).
 */
const compress = (body: Buffer) => gzipSync(body, { level: constants.Z_BEST_SPEED });

/**
 * The tail (the aggregator's own families, a few KB, compressed at every scrape) with a small window and
 * hash table: zlib's setup of its default 32 KB window and 64 K-entry table was most of the cost of
 * compressing it (137 µs a scrape; 23 µs so, for the same size within a few bytes).
 */
const compressTail = (body: Buffer) => gzipSync(body, { level: constants.Z_BEST_SPEED, windowBits: 12, memLevel: 4 });

/** Chunks compressed between two turns of the event loop (other requests are served in between). */
const YIELD_EVERY = 16;

/**
 * The stored families of one version of the store's rendering, as its chunks: kept while the store hands
 * back that version, so that an idle host's scrape reuses the whole compressed list, not each chunk.
 */
class StoredFamilies {
  private gzipped: Promise<Buffer[]> | undefined;
  private plain: Buffer[] | undefined;

  constructor(
    readonly format: ExpositionFormat,
    readonly version: number,
    private readonly chunks: ReadonlyArray<{ chunk: StoredChunk; source: ScrapeChunk }>,
  ) {}

  bytes(): Buffer[] {
    this.plain ??= this.chunks.flatMap((c) => c.source.bytes);
    return this.plain;
  }

  gzipMembers(): Promise<Buffer[]> {
    this.gzipped ??= this.compressAll().catch((error: unknown) => {
      this.gzipped = undefined; // the next scrape tries again
      throw error;
    });
    return this.gzipped;
  }

  private async compressAll(): Promise<Buffer[]> {
    const members: Buffer[] = [];
    let compressed = 0;
    for (const { chunk, source } of this.chunks) {
      const member = chunk.member;
      if (member !== undefined) {
        members.push(member);
        continue;
      }
      members.push(chunk.gzip(source));
      if (++compressed % YIELD_EVERY === 0) await new Promise<void>((next) => setImmediate(next));
    }
    return members;
  }
}

/**
 * A rendered exposition, shared by every request that joined the same render: the stored families, as
 * chunks kept across scrapes while unchanged, and the tail (the aggregator's own families, and `# EOF`),
 * which changes at every scrape. Compressed, it is one gzip member per chunk and one for the tail: a gzip
 * body may be a series of members (RFC 1952 §2.2), which Prometheus's reader (Go's gzip.Reader,
 * multistream) reads as one.
 */
export class Exposition {
  private tailGzipped: Buffer | undefined;

  constructor(
    readonly format: ExpositionFormat,
    private readonly stored: StoredFamilies,
    private readonly tail: Buffer,
  ) {}

  /** The body as chunks to send in order: plain, or gzip members (each compressed at most once). */
  async chunks(gzip: boolean): Promise<Buffer[]> {
    if (!gzip) return [...this.stored.bytes(), this.tail];
    const members = await this.stored.gzipMembers();
    this.tailGzipped ??= compressTail(this.tail);
    return [...members, this.tailGzipped];
  }
}

/** The outcome of a scrape: an exposition, or the status and one-line message to answer with instead. */
export type ScrapeResult = { ok: true; exposition: Exposition } | { ok: false; status: 500 | 503; message: string };

/**
 * Renders the store's merged exposition plus the aggregator's own metrics, in one store read: the store
 * renders our families too, from the health of the same snapshot (issue 15).
 *
 * Concurrent scrapes of the same format share one render: a request that arrives while a render is in flight
 * waits for it instead of starting another. So a burst of scrapers costs one store read, and memory holds at
 * most one exposition per format however many clients connect (issue #6: bounded memory).
 */
export class Scraper {
  private readonly inFlight = new Map<ExpositionFormat, Promise<ScrapeResult>>();
  /** The stored families last rendered, and their chunks by version (one format is scraped at a time). */
  private stored: StoredFamilies | undefined;
  private chunks = new Map<number, StoredChunk>();

  constructor(
    private readonly store: MetricsStore,
    private readonly watch: StoreWatch,
  ) {}

  scrape(format: ExpositionFormat): Promise<ScrapeResult> {
    let pending = this.inFlight.get(format);
    if (pending === undefined) {
      pending = this.render(format).finally(() => this.inFlight.delete(format));
      this.inFlight.set(format, pending);
    }
    return pending;
  }

  private async render(format: ExpositionFormat): Promise<ScrapeResult> {
    const startedAt = performance.now();
    let scrape: Scrape;
    try {
      scrape = await this.store.scrape({
        format,
        extraFamilies: (health) => {
          // Microsecond resolution is plenty, and keeps the sample free of float noise like 0.0009955199999994876.
          const durationSeconds = Math.round((performance.now() - startedAt) * 1000) / 1e6;
          return selfMetricFamilies(health, { durationSeconds, readFailures: this.watch.readFailures });
        },
      });
    } catch (error) {
      this.watch.failed(error);
      const code = storeErrorCode(error);
      if (code === 'STORE_DRIVER_UNAVAILABLE') return { ok: false, status: 503, message: DRIVER_UNAVAILABLE };
      if (code !== undefined) {
        return { ok: false, status: 503, message: `metrics store unavailable: ${code} (see the aggregator log)` };
      }
      return {
        ok: false,
        status: 500,
        message: 'internal error while reading the metrics store (see the aggregator log)',
      };
    }
    this.watch.succeeded(scrape.health);
    const { parts } = scrape;
    if (this.stored?.format !== format || this.stored.version !== parts.version) {
      const chunks: Array<{ chunk: StoredChunk; source: ScrapeChunk }> = [];
      const kept = new Map<number, StoredChunk>();
      for (const source of parts.chunks) {
        const chunk = this.chunks.get(source.version) ?? new StoredChunk(source.version);
        kept.set(source.version, chunk);
        chunks.push({ chunk, source });
      }
      this.chunks = kept;
      this.stored = new StoredFamilies(format, parts.version, chunks);
    }
    return { ok: true, exposition: new Exposition(format, this.stored, Buffer.from(parts.tail, 'utf8')) };
  }
}

// What to do, without the paths the log line carries (issue 14, item 5).
const DRIVER_UNAVAILABLE =
  "metrics store unavailable: STORE_DRIVER_UNAVAILABLE: better-sqlite3's native module cannot be loaded; " +
  'under pnpm allow its build (`pnpm approve-builds`), or rebuild it for this Node.js (`npm rebuild better-sqlite3`), ' +
  'then restart (see the aggregator log)';

/** The code of a StoreError; by name too, in case two copies of @kci-metrics/sqlite-store end up installed. */
function storeErrorCode(error: unknown): string | undefined {
  if (error instanceof StoreError) return error.code;
  if (error instanceof Error && error.name === 'StoreError') {
    const { code } = error as Error & { code?: unknown };
    if (typeof code === 'string' && /^[A-Z_]{1,40}$/.test(code)) return code;
  }
  return undefined;
}
