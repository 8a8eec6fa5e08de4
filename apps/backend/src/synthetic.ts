/**
 * Deterministic synthetic data: the same route and parameters always give the same JSON, so responses are
 * reproducible across runs, workers and frameworks (issue #4: "synthetic JSON, no database").
 */

/** 32-bit FNV-1a: a cheap, stable hash of a string. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A small seeded pseudo-random generator (mulberry32) with the helpers the resource builders need. */
export class Rng {
  private state: number;

  constructor(seed: string) {
    this.state = hash32(seed);
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)] as T;
  }

  /** `length` lowercase hex digits (a git commit hash is 40). */
  hex(length: number): string {
    let s = '';
    while (s.length < length) s += this.int(0, 0xffff).toString(16).padStart(4, '0');
    return s.slice(0, length);
  }

  /** An ISO timestamp within `days` days before the fixed epoch of the synthetic data. */
  time(days = 30): string {
    return new Date(SYNTHETIC_EPOCH - this.int(0, days * 86_400) * 1000).toISOString();
  }

  /** Status counts as the dashboard reports them. */
  statusCounts(scale = 100): Record<string, number> {
    return {
      PASS: this.int(0, scale),
      FAIL: this.int(0, Math.ceil(scale / 10)),
      ERROR: this.int(0, Math.ceil(scale / 20)),
      SKIP: this.int(0, Math.ceil(scale / 10)),
      MISS: this.int(0, Math.ceil(scale / 50)),
      DONE: this.int(0, Math.ceil(scale / 20)),
      NULL: this.int(0, Math.ceil(scale / 50)),
    };
  }

  /** `count` items built by `make`, each with its own index. */
  list<T>(count: number, make: (index: number) => T): T[] {
    return Array.from({ length: count }, (_, i) => make(i));
  }
}

/** Synthetic "now" (2025-06-01T00:00:00Z), fixed so that responses do not change from one run to the next. */
export const SYNTHETIC_EPOCH = Date.UTC(2025, 5, 1);

export const TREES = ['mainline', 'next', 'stable', 'stable-rc', 'android', 'chromiumos', 'kernelci'] as const;
export const BRANCHES = ['master', 'for-next/core', 'linux-6.6.y', 'linux-6.12.y', 'android15-6.6'] as const;
export const ARCHITECTURES = ['arm64', 'x86_64', 'arm', 'riscv'] as const;
export const CONFIGS = ['defconfig', 'allmodconfig', 'multi_v7_defconfig', 'x86_64_defconfig'] as const;
export const COMPILERS = ['gcc-12', 'gcc-14', 'clang-17', 'clang-19'] as const;
export const ORIGINS = ['maestro', 'microsoft', 'redhat', 'syzbot', '0dayci'] as const;
export const PLATFORMS = [
  'mt8195-cherry-tomato-r2',
  'rk3588-rock-5b',
  'qemu-x86',
  'imx8mp-evk',
  'bcm2711-rpi-4-b',
] as const;
export const TEST_PATHS = ['baseline.login', 'boot', 'kselftest.cpufreq', 'ltp.syscalls', 'kunit.exe.list'] as const;
export const STATUSES = ['PASS', 'FAIL', 'ERROR', 'SKIP', 'MISS'] as const;

/**
 * The synthetic latency of a route in milliseconds: 1-5 ms derived from the route template, times `scale`
 * (BACKEND_LATENCY_SCALE; 0 turns latency off for throughput benchmarks).
 *
 * @example
 * routeLatencyMs('/api/tree/', 1); // always the same value between 1 and 5
 */
export function routeLatencyMs(template: string, scale: number): number {
  return (1 + (hash32(template) % 5)) * scale;
}
