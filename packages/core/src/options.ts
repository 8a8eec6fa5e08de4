import { type OpenMetricsContentType, Registry } from 'prom-client';
import { ConfigError } from './errors.js';
import type { ExemplarSource } from './exemplars.js';
import { HTTP_DURATION_BUCKETS } from './http-metrics.js';

/** A per-request label value: a fixed string, or a function of the framework's request context. */
export type LabelSource<Ctx> = string | ((ctx: Ctx) => string | number | undefined);

/** Which request paths are not recorded. The metrics path (`/metrics`, `/metrics/`) is always excluded. */
export type ExcludePaths = readonly (string | RegExp)[] | ((path: string) => boolean);

/** Options every adapter accepts. Invalid options throw a ConfigError naming the option at construction. */
export interface HttpRecorderOptions<Ctx = unknown> {
  /** Where the metrics live. Default: a fresh prom-client Registry (never the global one). */
  registry?: Registry | Registry<OpenMetricsContentType>;
  /** Prefix of every metric name, e.g. `myapp_`. Default `''`. */
  prefix?: string;
  /** Buckets of `http_request_duration_seconds`, in seconds, strictly increasing. */
  buckets?: readonly number[];
  /** Paths not to record: exact paths or path prefixes (`/health` also excludes `/health/live`), RegExps, or a predicate. */
  excludePaths?: ExcludePaths;
  /** Extra labels on the request metrics: a static value or a function of the request context. */
  customLabels?: Readonly<Record<string, LabelSource<Ctx>>>;
  /** Record `http_request_size_bytes` (body bytes received). Default false. */
  requestSizes?: boolean;
  /** Record `http_response_size_bytes` (body bytes actually sent). Default false. */
  responseSizes?: boolean;
  /** Also collect prom-client's default process metrics on the registry. Default false. */
  defaultMetrics?: boolean;
  /**
   * Attach an exemplar to each request's `http_request_duration_seconds` observation: a function of the
   * request context (the one custom label functions get) returning the exemplar's labels, e.g.
   * `{ trace_id }`, or undefined for none. Defines the histogram with prom-client's `enableExemplars`;
   * exemplars are rendered in the OpenMetrics format only, and prom-client keeps them only in a registry of
   * that content type: the default registry is then made with it, and a `registry` option must have it. Labels that are not a flat object of strings
   * with valid names, longer than 128 characters in all (OpenMetrics' limit), or a function that throws,
   * cost the exemplar, never the observation (reported once with console.warn). Default: none, and no cost.
   */
  exemplars?: ExemplarSource<Ctx>;
}

export interface ResolvedOptions<Ctx> {
  prefix: string;
  buckets: readonly number[];
  exclude: (path: string) => boolean;
  /** True when only the metrics path is excluded (no excludePaths option). */
  excludesOnlyMetrics: boolean;
  customLabels: ReadonlyArray<readonly [string, LabelSource<Ctx>]>;
  requestSizes: boolean;
  responseSizes: boolean;
  defaultMetrics: boolean;
  exemplars: ExemplarSource<Ctx> | undefined;
}

const KNOWN = new Set([
  'registry',
  'prefix',
  'buckets',
  'excludePaths',
  'customLabels',
  'requestSizes',
  'responseSizes',
  'defaultMetrics',
  'exemplars',
]);
const RESERVED_LABELS = new Set(['method', 'route', 'status_code', 'le', 'quantile', 'pid']);
const METRIC_PREFIX = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const ALWAYS_EXCLUDED = new Set(['/metrics', '/metrics/']);

/** Validate adapter options where they enter; every error names the option and the value. */
export function resolveOptions<Ctx>(options: HttpRecorderOptions<Ctx>): ResolvedOptions<Ctx> {
  if (options === null || typeof options !== 'object') throw new ConfigError('options', options, 'an object');
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key)) throw new ConfigError('option', key, `one of ${[...KNOWN].join(', ')}`);
  }
  const prefix = options.prefix ?? '';
  if (typeof prefix !== 'string' || (prefix !== '' && !METRIC_PREFIX.test(prefix))) {
    throw new ConfigError('option prefix', prefix, 'a metric name prefix matching [a-zA-Z_:][a-zA-Z0-9_:]*');
  }
  return {
    prefix,
    buckets: resolveBuckets(options.buckets),
    exclude: resolveExclude(options.excludePaths),
    excludesOnlyMetrics: options.excludePaths === undefined,
    customLabels: resolveCustomLabels(options.customLabels),
    requestSizes: resolveFlag('requestSizes', options.requestSizes),
    responseSizes: resolveFlag('responseSizes', options.responseSizes),
    defaultMetrics: resolveFlag('defaultMetrics', options.defaultMetrics),
    exemplars: resolveExemplars(options.exemplars, options.registry),
  };
}

function resolveFlag(name: string, value: unknown): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean') throw new ConfigError(`option ${name}`, value, 'true or false');
  return value;
}

function resolveExemplars<Ctx>(
  source: unknown,
  registry: { contentType: string } | undefined,
): ExemplarSource<Ctx> | undefined {
  if (source === undefined) return undefined;
  if (typeof source === 'function') {
    // prom-client refuses a metric with exemplars on any other registry (a TypeError from its constructor).
    const type = registry?.contentType;
    if (registry !== undefined && type !== Registry.OPENMETRICS_CONTENT_TYPE) {
      throw new ConfigError(
        'content type of option registry',
        type,
        `"${Registry.OPENMETRICS_CONTENT_TYPE}" with option exemplars: new Registry(Registry.OPENMETRICS_CONTENT_TYPE), or no registry option`,
      );
    }
    return source as ExemplarSource<Ctx>;
  }
  throw new ConfigError(
    'option exemplars',
    source,
    'a function of the request context returning exemplar labels (e.g. { trace_id }) or undefined',
  );
}

function resolveBuckets(buckets: unknown): readonly number[] {
  if (buckets === undefined) return HTTP_DURATION_BUCKETS;
  const ok =
    Array.isArray(buckets) &&
    buckets.length > 0 &&
    buckets.every((b, i) => typeof b === 'number' && Number.isFinite(b) && (i === 0 || b > buckets[i - 1]));
  if (!ok) throw new ConfigError('option buckets', buckets, 'a non-empty array of strictly increasing finite numbers');
  return [...(buckets as number[])];
}

function resolveExclude(exclude: unknown): (path: string) => boolean {
  if (exclude === undefined) return (path) => ALWAYS_EXCLUDED.has(path);
  if (typeof exclude === 'function') {
    const fn = exclude as (path: string) => boolean;
    return (path) => ALWAYS_EXCLUDED.has(path) || safePredicate(fn, path);
  }
  if (!Array.isArray(exclude) || !exclude.every((e) => typeof e === 'string' || e instanceof RegExp)) {
    throw new ConfigError('option excludePaths', exclude, 'an array of path strings and RegExps, or a function');
  }
  const exact = new Set<string>(ALWAYS_EXCLUDED);
  const prefixes: string[] = [];
  const patterns: RegExp[] = [];
  for (const e of exclude as (string | RegExp)[]) {
    if (e instanceof RegExp) patterns.push(e);
    else if (!e.startsWith('/')) throw new ConfigError('option excludePaths', e, 'paths that start with "/"');
    else {
      const base = e.length > 1 && e.endsWith('/') ? e.slice(0, -1) : e;
      exact.add(base);
      exact.add(`${base}/`);
      prefixes.push(`${base}/`);
    }
  }
  return (path) =>
    exact.has(path) || prefixes.some((p) => path.startsWith(p)) || patterns.some((re) => matchOnce(re, path));
}

/**
 * `/metrics` or `/metrics/`, with or without a query string, read off the raw request target: the check
 * every request makes when no other path is excluded, without slicing and hashing the path.
 */
export function isMetricsTarget(url: string): boolean {
  if (!url.startsWith('/metrics')) return false;
  const next = url.length > 8 ? url.charCodeAt(8) : -1;
  if (next === -1 || next === 0x3f) return true; // end, or '?'
  if (next !== 0x2f) return false; // '/metrics' followed by anything but '/'
  return url.length === 9 || url.charCodeAt(9) === 0x3f;
}

function matchOnce(re: RegExp, path: string): boolean {
  re.lastIndex = 0; // a /g or /y RegExp keeps state between calls
  return re.test(path);
}

function safePredicate(fn: (path: string) => boolean, path: string): boolean {
  try {
    return fn(path) === true;
  } catch {
    return false; // a broken predicate must not take requests down; recording is the safe default
  }
}

function resolveCustomLabels<Ctx>(labels: unknown): ReadonlyArray<readonly [string, LabelSource<Ctx>]> {
  if (labels === undefined) return [];
  if (labels === null || typeof labels !== 'object' || Array.isArray(labels)) {
    throw new ConfigError('option customLabels', labels, 'an object of label name to string or function');
  }
  return Object.entries(labels).map(([name, source]) => {
    if (!LABEL_NAME.test(name) || name.startsWith('__') || RESERVED_LABELS.has(name)) {
      throw new ConfigError(
        'option customLabels',
        name,
        `a label name matching [a-zA-Z_][a-zA-Z0-9_]*, not reserved (${[...RESERVED_LABELS].join(', ')})`,
      );
    }
    if (typeof source !== 'string' && typeof source !== 'function') {
      throw new ConfigError(`option customLabels.${name}`, source, 'a string or a function of the request');
    }
    return [name, source as LabelSource<Ctx>] as const;
  });
}
