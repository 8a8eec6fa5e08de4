/** Synthetic bodies of the non-tree routes (tests, builds, hardware, issues and the small lists). */
import { ARCHITECTURES, BRANCHES, ORIGINS, PLATFORMS, type Rng, STATUSES, TEST_PATHS, TREES } from './synthetic.js';
import { buildItem, checkoutItem, type ResourceBuilder, summaryItem, testItem } from './tree-resources.js';

function issue(rng: Rng, id?: string) {
  return {
    id: id ?? `${rng.pick(ORIGINS)}:${rng.hex(20)}`,
    version: rng.int(0, 5),
    comment: rng.pick([
      'BUG: KASAN: slab-use-after-free',
      'kernel BUG at mm/slub.c',
      'WARNING in __alloc_pages',
      'boot hang',
    ]),
    culprit: { code: rng.next() < 0.7, tool: rng.next() < 0.2, harness: rng.next() < 0.1 },
    first_seen: rng.time(90),
    incidents: rng.int(1, 400),
  };
}

function hardware(rng: Rng, id?: string) {
  return {
    hardware_name: id ?? rng.pick(PLATFORMS),
    platform: rng.pick(PLATFORMS),
    architecture: rng.pick(ARCHITECTURES),
    trees: rng.list(2, () => rng.pick(TREES)),
    build_status: rng.statusCounts(200),
    boot_status: rng.statusCounts(150),
    test_status: rng.statusCounts(3000),
  };
}

export const testDetails: ResourceBuilder = (rng, { params }) => ({
  ...testItem(rng, params.testId),
  build: buildItem(rng),
  checkout: checkoutItem(rng),
  log_url: `https://storage.kernelci.org/logs/${rng.hex(16)}/test.log`,
  environment_compatible: [rng.pick(PLATFORMS)],
});

export const testIssues: ResourceBuilder = (rng) => rng.list(rng.int(0, 3), () => issue(rng));

export const testStatusHistory: ResourceBuilder = (rng, { query }) => ({
  path: query.path ?? rng.pick(TEST_PATHS),
  status_history: rng.list(10, () => ({
    id: `maestro:${rng.hex(24)}`,
    status: rng.pick(STATUSES),
    start_time: rng.time(),
  })),
  regression_type: rng.pick(['fixed', 'regression', 'unstable', 'pass', 'fail']),
});

export const buildDetails: ResourceBuilder = (rng, { params }) => ({
  ...buildItem(rng, params.buildId),
  checkout: checkoutItem(rng),
  misc: { kernel_type: 'image', dtb: null, modules: `https://storage.kernelci.org/${rng.hex(16)}/modules.tar.xz` },
});

export const buildTests: ResourceBuilder = (rng) => rng.list(15, () => testItem(rng));
export const buildIssues: ResourceBuilder = (rng) => rng.list(rng.int(0, 3), () => issue(rng));

export const logDownloader: ResourceBuilder = (rng, { query }) => ({
  log_url: query.log_download_url ?? `https://storage.kernelci.org/logs/${rng.hex(16)}/`,
  log_files: rng.list(4, (i) => ({
    specific_log_url: `log-${i}.txt.gz`,
    file_name: `log-${i}.txt.gz`,
    file_size: `${rng.int(1, 900)} KB`,
    date: rng.time(),
  })),
});

export const hardwareList: ResourceBuilder = (rng) => ({ hardware: rng.list(8, () => hardware(rng)) });

export const hardwareSelectors: ResourceBuilder = (rng) => ({
  origins: [...ORIGINS],
  trees: TREES.map((tree) => ({ tree_name: tree, branches: [...BRANCHES], latest: rng.hex(40) })),
});

export const hardwareByRevision: ResourceBuilder = (rng, { query }) => ({
  commit_hash: query.commit_hash ?? rng.hex(40),
  hardware: rng.list(5, () => ({ hardware_name: rng.pick(PLATFORMS), test_status: rng.statusCounts(800) })),
});

export const hardwareDetails: ResourceBuilder = (rng, { params, body }) => ({
  ...hardware(rng, params.hardwareId),
  filters: isObject(body) ? (body.filter ?? {}) : {},
  trees: rng.list(3, () => checkoutItem(rng)),
});

export const hardwareBuilds: ResourceBuilder = (rng) => ({ builds: rng.list(12, () => buildItem(rng)) });
export const hardwareBoots: ResourceBuilder = (rng) => ({ boots: rng.list(12, () => testItem(rng)) });
export const hardwareTests: ResourceBuilder = (rng) => ({ tests: rng.list(20, () => testItem(rng)) });
export const hardwareSummary: ResourceBuilder = (rng, { params }) => ({
  hardware_name: params.hardwareId,
  summary: summaryItem(rng),
});

export const hardwareCommitHistory: ResourceBuilder = (rng) => ({
  commit_history_table: rng.list(5, () => ({
    git_commit_hash: rng.hex(40),
    git_commit_name: `v6.${rng.int(6, 16)}`,
    earliest_start_time: rng.time(),
  })),
});

export const issueList: ResourceBuilder = (rng) => ({ issues: rng.list(10, () => issue(rng)), extras: {} });

export const issueExtras: ResourceBuilder = (rng, { body }) => {
  const wanted = isObject(body) && Array.isArray(body.issues) ? body.issues.slice(0, 50) : [];
  const issues = Object.fromEntries(
    wanted.map((entry) => [
      String(Array.isArray(entry) ? entry[0] : entry),
      { first_incident: checkoutItem(rng), versions: rng.int(1, 4) },
    ]),
  );
  return { issues };
};

export const issueDetails: ResourceBuilder = (rng, { params }) => issue(rng, params.issueId);
export const issueTests: ResourceBuilder = (rng) => rng.list(8, () => testItem(rng));
export const issueBuilds: ResourceBuilder = (rng) => rng.list(5, () => buildItem(rng));

export const origins: ResourceBuilder = () => ({ checkout_origins: [...ORIGINS], test_origins: [...ORIGINS] });

export const treeReport: ResourceBuilder = (rng, { query }) => ({
  tree_name: query.tree_name ?? rng.pick(TREES),
  checkout: checkoutItem(rng),
  summary: summaryItem(rng),
  new_issues: rng.list(rng.int(0, 4), () => issue(rng)),
});

export const appMetrics: ResourceBuilder = (rng) => ({
  n_trees: TREES.length,
  n_checkouts: rng.int(1000, 5000),
  n_builds: rng.int(50_000, 90_000),
  n_tests: rng.int(2_000_000, 9_000_000),
  n_issues: rng.int(500, 2000),
  n_incidents: rng.int(10_000, 60_000),
});

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
