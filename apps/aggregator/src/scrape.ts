import { promisify } from 'node:util';
import { constants, gzip } from 'node:zlib';
import type { ExpositionFormat, MetricsStore, Scrape } from '@kci-metrics/sqlite-store';
import { StoreError } from '@kci-metrics/sqlite-store';
import { selfMetricFamilies } from './self-metrics.js';
import type { StoreWatch } from './store-watch.js';

const gzipAsync = promisify(gzip);

/**
 * One chunk of the stored families (the store's `parts.chunks`), compressed at most once. The store hands
 * back the same version while the chunk's text is unchanged (issue 17), so a scrape compresses only the
 * chunks of series that changed, and an idle host's scrapes compress nothing. Its text is not kept (the
 * store hands it to each scrape): a scrape that wants the body uncompressed encodes it again.
 */
class StoredChunk {
  private gzipped: Promise<Buffer> | undefined;

  constructor(readonly version: number) {}

  /** Its gzip member; `text` is its text in the scrape that asks (the same characters for the same version). */
  gzip(text: string): Promise<Buffer> {
    this.gzipped ??= compressQueue.run(() => compress(Buffer.from(text, 'utf8')));
    return this.gzipped;
  }
}

// Fastest level: on a 1.2 MB exposition it takes 4 ms instead of 22 ms (level 6) for a body 15% larger
// (42 KB instead of 36 KB); CPU on the monitored host matters more than a few KB on the network.
const compress = (body: Buffer) => gzipAsync(body, { level: constants.Z_BEST_SPEED });

/**
 * At most this many compressions at once (zlib runs them on libuv's thread pool): each holds its input and
 * a zlib state of a few hundred KB, and after a change of everything at S=100000 there are hundreds.
 */
const COMPRESSIONS = 4;

class Queue {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly limit: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) await new Promise<void>((start) => this.waiting.push(start));
    this.running++;
    try {
      return await task();
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }
}

const compressQueue = new Queue(COMPRESSIONS);

/**
 * A rendered exposition, shared by every request that joined the same render: the stored families, as
 * chunks kept across scrapes while unchanged, and the tail (the aggregator's own families, and `# EOF`),
 * which changes at every scrape. Compressed, it is one gzip member per chunk and one for the tail: a gzip
 * body may be a series of members (RFC 1952 §2.2), which Prometheus's reader (Go's gzip.Reader,
 * multistream) reads as one.
 */
export class Exposition {
  private tailGzipped: Promise<Buffer> | undefined;

  constructor(
    readonly format: ExpositionFormat,
    private readonly stored: ReadonlyArray<{ chunk: StoredChunk; text: string }>,
    private readonly tail: Buffer,
  ) {}

  /** The body as chunks to send in order: plain, or gzip members (each compressed at most once). */
  async chunks(gzip: boolean): Promise<Buffer[]> {
    if (!gzip) return [...this.stored.map((c) => Buffer.from(c.text, 'utf8')), this.tail];
    this.tailGzipped ??= compress(this.tail);
    return Promise.all([...this.stored.map((c) => c.chunk.gzip(c.text)), this.tailGzipped]);
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
  /** The chunks of the stored families last rendered, by version (one format is scraped at a time). */
  private stored = new Map<number, StoredChunk>();

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
    const chunks: Array<{ chunk: StoredChunk; text: string }> = [];
    const kept = new Map<number, StoredChunk>();
    for (const { version, text } of parts.chunks) {
      const chunk = this.stored.get(version) ?? new StoredChunk(version);
      kept.set(version, chunk);
      chunks.push({ chunk, text });
    }
    this.stored = kept;
    return { ok: true, exposition: new Exposition(format, chunks, Buffer.from(parts.tail, 'utf8')) };
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
