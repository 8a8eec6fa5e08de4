/**
 * Change tracking at the prom-client boundary (issue 17): which series of a metric changed since the last
 * flush, so that a flush costs what changed instead of what exists.
 *
 * prom-client 15 keeps a metric's series in `metric.hashMap`, one entry object per label set, and records
 * by mutating the entry in place (`entry.value += v` for counters, `entry.count += 1` with `sum` and the
 * buckets for histograms and summaries). Two hooks see every such change without touching the record path
 * of a series that exists:
 *
 * - each entry is replaced by a copy whose counted field (`value` or `count`) is an accessor: its setter
 *   puts the entry on its metric's change log the first time it changes after a flush. The copies go into
 *   a new map that takes the metric's map's place, never into the map that held the originals: whoever
 *   caches entries for as long as the map object is the same (@kci-metrics/core's observers) must not
 *   keep recording into an entry the map no longer holds;
 * - the map gets a prototype (a Proxy with only a `set` trap) that is reached only by an assignment to a
 *   key the map does not have, which is how prom-client adds a series: the map gets a tracked copy of the
 *   new entry, logged as changed. Lookups of existing keys never reach it.
 *
 * Whatever replaces a whole entry or the whole map (reset(), Histogram.zero(), code that is not prom-client
 * 15's) is not seen by these hooks: the writer compares every series after each of those it knows of, and
 * looks at every series again within VERIFY_EVERY_MS (a rolling look, writer.ts); a change found that the
 * log missed turns the log off for that metric (compared every flush from then on, as before), and is
 * logged once.
 *
 * Gauges are not tracked: prom-client's Gauge.set() replaces the entry object, so a gauge is compared at
 * every flush (one number per series).
 */
import type { PromEntry } from './prom-internals.js';

const VALUE = Symbol('kci.value');
const QUEUED = Symbol('kci.queued');
const LOG = Symbol('kci.log');
const KEY = Symbol('kci.key');
const OWNER = Symbol('kci.owner');

/** A prom-client entry with its counted field turned into an accessor. */
export interface TrackedEntry extends PromEntry {
  [VALUE]: number;
  [QUEUED]: boolean;
  [LOG]: ChangeLog;
  [KEY]: string;
  /** What the log's owner keeps for this entry (the writer's series state), so a flush finds it without a lookup. */
  [OWNER]: unknown;
}

export type TrackedField = 'value' | 'count';

function accessor(): PropertyDescriptor {
  return {
    get(this: TrackedEntry): number {
      return this[VALUE];
    },
    set(this: TrackedEntry, v: number) {
      this[VALUE] = v;
      if (!this[QUEUED]) {
        this[QUEUED] = true;
        this[LOG].changed.push(this);
      }
    },
    enumerable: true,
    configurable: true,
  };
}

const ACCESSOR = accessor();

/** The entries of one metric that changed since the last flush, and the map whose new keys it hears of. */
export class ChangeLog {
  changed: TrackedEntry[] = [];
  /** The map the trap is installed on; another map in `metric.hashMap` means it was replaced unobserved. */
  map: object | undefined;
  private readonly trap: object;

  constructor(readonly field: TrackedField) {
    const log = this;
    this.trap = new Proxy(Object.create(null) as object, {
      set(_target, key, value, receiver) {
        // A key the map does not have (an own data property would have been written without reaching here):
        // prom-client adds a series. The map gets the tracked copy of its entry, logged as changed.
        let entry = value as unknown;
        if (typeof key === 'string' && value !== null && typeof value === 'object') {
          const tracked = log.copy(value as PromEntry, key);
          if (tracked) {
            log.queue(tracked);
            entry = tracked;
          }
        }
        Object.defineProperty(receiver, key, { value: entry, writable: true, enumerable: true, configurable: true });
        return true;
      },
    });
  }

  /**
   * Hear of `map`'s new keys from now on. False when the map cannot take the hook (not a plain object);
   * then the metric is compared at every flush.
   */
  install(map: object): boolean {
    const proto = Object.getPrototypeOf(map) as object | null;
    if (proto !== this.trap) {
      if (proto !== Object.prototype && proto !== null && !isTrap(proto)) return false;
      if (!Object.isExtensible(map)) return false;
      Object.setPrototypeOf(map, this.trap);
      traps.add(this.trap);
    }
    this.map = map;
    return true;
  }

  /**
   * Every entry of `map` tracked. An entry is never replaced inside a map: prom-client 15 holds none across
   * calls, but whoever caches entries may trust one for as long as the map object stays the same (the
   * adapters' observers in @kci-metrics/core do, and drop their cache when the map is replaced). So when
   * some entries need their tracked copy, the result is a new map in the same key order, with the trap
   * installed, for the caller to put in the metric's place; the map itself when every entry is tracked
   * already. Undefined when an entry cannot be tracked (then the metric is compared at every flush).
   */
  trackAll(map: Record<string, PromEntry>): Record<string, PromEntry> | undefined {
    const keys = Object.keys(map);
    let next: Record<string, PromEntry> | undefined;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i] as string;
      const entry = map[key] as PromEntry;
      const tracked = entry ? this.tracked(entry, key) : entry;
      if (tracked === undefined) return undefined;
      if (tracked !== entry && next === undefined) {
        next = {};
        for (let j = 0; j < i; j++) next[keys[j] as string] = map[keys[j] as string] as PromEntry;
      }
      if (next !== undefined) next[key] = tracked;
    }
    if (next === undefined) return map;
    return this.install(next) ? next : undefined;
  }

  /** `entry` itself when it is tracked already (now by this log, under `key`), else its tracked copy. */
  private tracked(entry: PromEntry, key: string): PromEntry | undefined {
    const e = entry as TrackedEntry;
    if (e[LOG] === undefined) return this.copy(entry, key);
    // Tracked already (by this log, or by another: the same object put in a second map logs here now).
    if (e[LOG] !== this) {
      e[LOG] = this;
      e[QUEUED] = false;
      e[OWNER] = undefined;
    }
    // Read before written: a verification walks every entry, and a write would dirty each one's memory.
    if (e[KEY] !== key) {
      e[KEY] = key;
      e[OWNER] = undefined;
    }
    return entry;
  }

  /**
   * A copy of `entry` whose counted field is an accessor that logs the entry's first change after a flush.
   * A fresh object defined field by field in the entry's own order keeps V8's fast properties and one shape
   * per kind of entry (redefining the field on the entry itself would turn it into a slow dictionary for
   * prom-client's record path too).
   */
  private copy(entry: PromEntry, key: string): TrackedEntry | undefined {
    if (typeof (entry as unknown as Record<string, unknown>)[this.field] !== 'number') return undefined;
    if (Object.getPrototypeOf(entry) !== Object.prototype) return undefined;
    const out = {} as TrackedEntry;
    const source = entry as unknown as Record<string, unknown>;
    for (const k of Object.keys(source)) {
      if (k === this.field) Object.defineProperty(out, k, ACCESSOR);
      else (out as unknown as Record<string, unknown>)[k] = source[k];
    }
    out[VALUE] = source[this.field] as number;
    out[QUEUED] = false;
    out[LOG] = this;
    out[KEY] = key;
    out[OWNER] = undefined;
    return out;
  }

  private queue(e: TrackedEntry): void {
    if (e[QUEUED] || e[LOG] !== this) return;
    e[QUEUED] = true;
    this.changed.push(e);
  }

  /** Whether `entry` is tracked by this log: any change of its counted field since the last take() was logged. */
  tracks(entry: PromEntry): boolean {
    return (entry as TrackedEntry)[LOG] === this;
  }

  /** The changed entries, each once, with the log emptied: the caller owns them now. */
  take(): TrackedEntry[] {
    const out = this.changed;
    if (out.length === 0) return out;
    this.changed = [];
    for (const e of out) e[QUEUED] = false;
    return out;
  }
}

/** Whether a tracked entry is on its log's list of changes (the next flush visits it). */
export function isQueued(entry: PromEntry): boolean {
  return (entry as Partial<TrackedEntry>)[QUEUED] === true;
}

/** The key a tracked entry was logged under. */
export function keyOf(entry: TrackedEntry): string {
  return entry[KEY];
}

/** What the log's owner attached to a tracked entry with `attach` (undefined for an entry that is not tracked). */
export function ownerOf(entry: PromEntry): unknown {
  return (entry as Partial<TrackedEntry>)[OWNER];
}

/** Attach the owner's record to a tracked entry; an untracked entry (prom-client's own object) is left alone. */
export function attach(entry: PromEntry, owner: unknown): void {
  const e = entry as TrackedEntry;
  if (e[LOG] !== undefined && e[OWNER] !== owner) e[OWNER] = owner;
}

const traps = new WeakSet<object>();

/** Whether a map's prototype is one of this module's traps (prom-internals accepts it as a plain object). */
export function isTrap(proto: object | null): boolean {
  return proto !== null && traps.has(proto);
}
