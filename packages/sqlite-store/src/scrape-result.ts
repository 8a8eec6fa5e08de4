import type { StoredChunk } from './blocks.js';
import type { ExpositionFormat, Scrape, ScrapeChunk, StoreHealth } from './types.js';

/**
 * A scrape's result over the stored families as the renderer keeps them (UTF-8 bytes by chunk, blocks.ts):
 * the bytes are handed out as they are, and the text forms (`body`, `parts.stored`, a chunk's `text`) are
 * decoded only when read (issue 17: an aggregator sends or compresses the bytes and never needs the text,
 * and at S=10000 decoding, joining and encoding 14 MB again at every scrape cost more than rendering it).
 */
export function scrapeOf(
  format: ExpositionFormat,
  version: number,
  stored: readonly StoredChunk[],
  tail: string,
  health: StoreHealth,
): Scrape {
  const chunks = stored.map((c) => new Chunk(c.version, c.pieces));
  let storedText: string | undefined;
  let body: string | undefined;
  const parts = {
    version,
    tail,
    chunks,
    get stored(): string {
      storedText ??= decode(chunks.flatMap((c) => c.bytes));
      return storedText;
    },
  };
  return {
    format,
    parts,
    health,
    get body(): string {
      body ??= parts.stored + tail;
      return body;
    },
  };
}

class Chunk implements ScrapeChunk {
  constructor(
    readonly version: number,
    readonly bytes: readonly Buffer[],
  ) {}

  get text(): string {
    return decode(this.bytes);
  }
}

function decode(pieces: readonly Buffer[]): string {
  return pieces.length === 1 ? (pieces[0] as Buffer).toString('utf8') : Buffer.concat(pieces).toString('utf8');
}
