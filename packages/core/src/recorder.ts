import { collectDefaultMetrics, Registry } from 'prom-client';
import { fastObserver } from './fast-observe.js';
import { defineHttpMetrics } from './http-metrics.js';
import { normalizeMethod, statusLabel, UNMATCHED_ROUTE } from './labels.js';
import { type HttpRecorderOptions, type LabelSource, type ResolvedOptions, resolveOptions } from './options.js';

/** What an adapter knows when a response is over. */
export interface RequestOutcome<Ctx> {
  /** The matched route template (e.g. `/api/tree/:commitHash/full`); undefined when no route matched. */
  route: string | undefined;
  /** The status the client received; 499 when the client went away first. */
  statusCode: number;
  /** The framework's request context, passed to custom label functions. */
  ctx: Ctx;
  /** Body bytes received, when known. */
  requestBytes?: number;
  /** Body bytes actually sent, when known. */
  responseBytes?: number;
}

/** One request in flight. `end()` records it; calling it again does nothing. */
export interface RequestTimer<Ctx> {
  end(outcome: RequestOutcome<Ctx>): void;
}

/** The framework-neutral recorder that the Koa and Express adapters wrap. */
export interface HttpRecorder<Ctx> {
  readonly registry: Registry;
  /** True when this path (without query string) is not to be recorded. */
  isExcluded(path: string): boolean;
  /** Call when a request arrives; counts it in `http_server_active_requests` until `end()`. */
  start(method: string | undefined): RequestTimer<Ctx>;
}

const withDefaultMetrics = new WeakSet<Registry>();

/**
 * Create the recorder adapters call at the start and at the end of each request.
 *
 * @example
 * const recorder = createHttpRecorder({ excludePaths: ['/health'] });
 * const timer = recorder.start(req.method);
 * res.on('close', () => timer.end({ route: '/api/tree/', statusCode: res.statusCode, ctx: req }));
 */
export function createHttpRecorder<Ctx = unknown>(options: HttpRecorderOptions<Ctx> = {}): HttpRecorder<Ctx> {
  const resolved = resolveOptions(options);
  const registry = options.registry ?? new Registry();
  const metrics = defineHttpMetrics(registry, {
    prefix: resolved.prefix,
    buckets: resolved.buckets,
    extraLabelNames: resolved.customLabels.map(([name]) => name),
    requestSizes: resolved.requestSizes,
    responseSizes: resolved.responseSizes,
  });
  if (resolved.defaultMetrics && !withDefaultMetrics.has(registry)) {
    withDefaultMetrics.add(registry);
    collectDefaultMetrics({ register: registry, prefix: resolved.prefix });
    // prom-client names three gauges with a counter's `_total` suffix, which `promtool check metrics`
    // reports as problems; their per-type breakdowns (nodejs_active_handles{type}, ...) stay.
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
      registry.removeSingleMetric(resolved.prefix + name);
    }
  }
  const observers: Observers = {
    inFlight: metrics.inFlight,
    duration: fastObserver(metrics.duration),
    requestSize: metrics.requestSize && fastObserver(metrics.requestSize),
    responseSize: metrics.responseSize && fastObserver(metrics.responseSize),
  };
  return {
    registry,
    isExcluded: resolved.exclude,
    start: (rawMethod) => startTimer(observers, resolved, normalizeMethod(rawMethod)),
  };
}

type Observe = (labels: Record<string, string>, value: number) => void;

/** What a request updates when it ends. */
interface Observers {
  inFlight: Map<string, number>;
  duration: Observe;
  requestSize: Observe | undefined;
  responseSize: Observe | undefined;
}

function startTimer<Ctx>(metrics: Observers, options: ResolvedOptions<Ctx>, method: string): RequestTimer<Ctx> {
  const startedAt = performance.now();
  const inFlight = metrics.inFlight;
  inFlight.set(method, (inFlight.get(method) ?? 0) + 1);
  let ended = false;
  return {
    end(outcome) {
      if (ended) return;
      ended = true;
      inFlight.set(method, (inFlight.get(method) ?? 1) - 1);
      const labels: Record<string, string> = {
        method,
        route: outcome.route ?? UNMATCHED_ROUTE,
        status_code: statusLabel(outcome.statusCode),
      };
      const custom = options.customLabels;
      // An indexed loop: for-of with destructuring allocated an iterator per request even for no labels.
      for (let i = 0; i < custom.length; i++) {
        const [name, source] = custom[i] as readonly [string, LabelSource<Ctx>];
        labels[name] = labelValue(source, outcome.ctx);
      }
      metrics.duration(labels, (performance.now() - startedAt) / 1000);
      if (metrics.requestSize && isSize(outcome.requestBytes)) metrics.requestSize(labels, outcome.requestBytes);
      if (metrics.responseSize && isSize(outcome.responseBytes)) metrics.responseSize(labels, outcome.responseBytes);
    },
  };
}

function labelValue<Ctx>(source: string | ((ctx: Ctx) => string | number | undefined), ctx: Ctx): string {
  if (typeof source === 'string') return source;
  try {
    const v = source(ctx);
    return v === undefined ? '' : String(v);
  } catch {
    return ''; // a failing label function must never fail the request it describes
  }
}

function isSize(n: number | undefined): n is number {
  return typeof n === 'number' && Number.isFinite(n) && n >= 0;
}
