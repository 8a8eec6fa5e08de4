import type { ExpositionFormat } from '@kci-metrics/sqlite-store';

/** One entry of an `Accept` or `Accept-Encoding` header: the lower-cased value and its q-value. */
interface Preference {
  value: string;
  q: number;
}

// Header values are bounded by Node's maxHeaderSize (16 KB); this bound keeps a header of thousands of
// tiny entries from costing more than a scrape is worth.
const MAX_ENTRIES = 64;

/** Split a comma-separated header into entries with their q-value (RFC 9110 §12.4.2); malformed q counts as 0. */
function parsePreferences(header: string | undefined): Preference[] {
  if (header === undefined || header === '') return [];
  const entries: Preference[] = [];
  for (const part of header.split(',', MAX_ENTRIES)) {
    const [rawValue = '', ...params] = part.split(';');
    const value = rawValue.trim().toLowerCase();
    if (value === '') continue;
    let q = 1;
    for (const param of params) {
      const [name = '', rawQ = ''] = param.split('=', 2);
      if (name.trim().toLowerCase() !== 'q') continue;
      const parsed = /^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/.test(rawQ.trim()) ? Number(rawQ.trim()) : 0;
      q = parsed;
    }
    entries.push({ value, q });
  }
  return entries;
}

function bestQ(preferences: Preference[], matches: (value: string) => boolean): number {
  let best = 0;
  for (const p of preferences) if (matches(p.value) && p.q > best) best = p.q;
  return best;
}

/**
 * Pick the exposition format for a scrape from its `Accept` header.
 *
 * OpenMetrics is chosen when the client names `application/openmetrics-text` explicitly with a q-value at
 * least as high as the best match for the Prometheus text format (`text/plain`, `text/*` or `*\/*`).
 * Everything else, including a missing header or one that accepts neither format, gets the Prometheus text
 * format 0.0.4: it is what every scraper understands, and a 406 would only turn a scrape into an outage.
 *
 * @example
 * chooseFormat('application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5'); // 'openmetrics'
 * chooseFormat(undefined); // 'prometheus'
 */
export function chooseFormat(accept: string | undefined): ExpositionFormat {
  const preferences = parsePreferences(accept);
  const openMetrics = bestQ(preferences, (v) => v === 'application/openmetrics-text');
  const text = bestQ(preferences, (v) => v === 'text/plain' || v === 'text/*' || v === '*/*');
  return openMetrics > 0 && openMetrics >= text ? 'openmetrics' : 'prometheus';
}

/**
 * True when the `Accept-Encoding` header allows gzip (`gzip`, `x-gzip` or `*` with a q-value above 0, and
 * gzip not refused explicitly with `gzip;q=0`).
 *
 * @example
 * acceptsGzip('gzip, deflate'); // true
 * acceptsGzip('gzip;q=0, *'); // false
 */
export function acceptsGzip(acceptEncoding: string | undefined): boolean {
  const preferences = parsePreferences(acceptEncoding);
  const named = preferences.filter((p) => p.value === 'gzip' || p.value === 'x-gzip');
  if (named.length > 0) return named.some((p) => p.q > 0);
  return bestQ(preferences, (v) => v === '*') > 0;
}
