// TEMPORARY in-memory stand-in for @kci-metrics/sqlite-store, used only until the real store lands.
import { StoreError } from '@kci-metrics/core';
import type { MetricsOptions, MetricsStore, StoreHealth } from '@kci-metrics/sqlite-store';
import type { Registry } from 'prom-client';

export class FakeStore implements MetricsStore {
  readonly path = '/tmp/fake/kci-metrics.sqlite';
  failure: Error | undefined;
  metricsCalls = 0;
  health_: StoreHealth = {
    path: this.path,
    sizeBytes: 4096,
    liveWriters: 1,
    stalledWriters: 0,
    deadWriters: 0,
    foldedWriters: 0,
    flushFailures: 0,
    conflicts: [],
  };

  constructor(private readonly registry: Registry) {}

  attach(): void {}
  flush(): boolean {
    return true;
  }
  async metrics(options: MetricsOptions = {}): Promise<string> {
    this.metricsCalls += 1;
    await new Promise((resolve) => setTimeout(resolve, 20));
    if (this.failure) throw this.failure;
    if (options.format === 'openmetrics') {
      // The real store renders OpenMetrics itself; this approximation only needs the closing line.
      return `${await this.registry.metrics()}# EOF\n`;
    }
    return this.registry.metrics();
  }
  health(): StoreHealth {
    if (this.failure) throw this.failure;
    return this.health_;
  }
  close(): void {}
  corrupt(): void {
    this.failure = new StoreError('STORE_READ_FAILED', `cannot read ${this.path}`, {
      path: this.path,
      cause: new Error('file is not a database'),
    });
  }
  repair(): void {
    this.failure = undefined;
  }
}
