import type { MetricsStore, StoreOptions } from './types.js';

// Placeholder while the implementation lands (issue #3); replaced in the next commit.
export function openStore(_options: StoreOptions = {}): MetricsStore {
  throw new Error('not implemented yet');
}
