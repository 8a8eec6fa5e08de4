import type { ExpositionFormat, Scrape, ScrapeChunk, StoreHealth } from './types.js';

/**
 * A scrape's result over the stored families as the renderer keeps them (UTF-8 bytes by chunk, blocks.ts):
 * the bytes are handed out as they are, and the text forms (`body`, `parts.stored`, a chunk's `text`) are
 * made only when read, from the pieces' text, each piece decoded once (blocks.ts): an aggregator sends or
 * compresses the bytes and never needs the text (issue 17: at S=10000, joining and encoding 14 MB of text
 * again at every scrape cost more than rendering it), and `metrics()` after a change decodes what changed.
 */
export function scrapeOf(
  format: ExpositionFormat,
  version: number,
  chunks: readonly ScrapeChunk[],
  tail: string,
  health: StoreHealth,
): Scrape {
  let storedText: string | undefined;
  let body: string | undefined;
  const parts = {
    version,
    tail,
    chunks: chunks.slice(), // the caller's list: the store keeps its own
    get stored(): string {
      if (storedText === undefined) {
        // Concatenated, not joined (no copy): whoever wants the body as one flat string pays for it.
        storedText = '';
        for (const c of chunks) storedText += c.text;
      }
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
