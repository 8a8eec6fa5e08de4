/** Synthetic bodies of the /api/tree/... routes, shaped like the KernelCI Dashboard's answers. */
import {
  ARCHITECTURES,
  BRANCHES,
  COMPILERS,
  CONFIGS,
  ORIGINS,
  PLATFORMS,
  type Rng,
  STATUSES,
  TEST_PATHS,
  TREES,
} from './synthetic.js';

/** What a resource builder sees of a request: decoded path parameters, query string and JSON body. */
export interface ResourceInput {
  params: Readonly<Record<string, string>>;
  query: Readonly<Record<string, string>>;
  body: unknown;
}

export type ResourceBuilder = (rng: Rng, input: ResourceInput) => unknown;

function checkout(rng: Rng, treeName?: string, branch?: string, commit?: string) {
  const tree = treeName ?? rng.pick(TREES);
  return {
    tree_name: tree,
    git_repository_branch: branch ?? rng.pick(BRANCHES),
    git_repository_url: `https://git.kernel.org/pub/scm/linux/kernel/git/${tree}/linux.git`,
    git_commit_hash: commit ?? rng.hex(40),
    git_commit_name: `v6.${rng.int(6, 16)}-rc${rng.int(1, 7)}-${rng.int(1, 400)}-g${rng.hex(12)}`,
    start_time: rng.time(),
    origin: rng.pick(ORIGINS),
  };
}

function build(rng: Rng, id?: string) {
  return {
    id: id ?? `${rng.pick(ORIGINS)}:${rng.hex(24)}`,
    architecture: rng.pick(ARCHITECTURES),
    config_name: rng.pick(CONFIGS),
    compiler: rng.pick(COMPILERS),
    status: rng.pick(STATUSES),
    duration: rng.int(60, 3600),
    start_time: rng.time(),
    log_url: `https://storage.kernelci.org/logs/${rng.hex(16)}/build.log`,
  };
}

function test(rng: Rng, id?: string) {
  return {
    id: id ?? `${rng.pick(ORIGINS)}:${rng.hex(24)}`,
    path: rng.pick(TEST_PATHS),
    status: rng.pick(STATUSES),
    platform: rng.pick(PLATFORMS),
    architecture: rng.pick(ARCHITECTURES),
    start_time: rng.time(),
    duration: rng.int(1, 900),
  };
}

function summary(rng: Rng) {
  return {
    builds: { status: rng.statusCounts(400), architectures: rng.list(3, () => rng.pick(ARCHITECTURES)) },
    boots: { status: rng.statusCounts(300), platforms: rng.list(3, () => rng.pick(PLATFORMS)) },
    tests: { status: rng.statusCounts(5000), origins: rng.list(2, () => rng.pick(ORIGINS)) },
  };
}

function commits(rng: Rng, count: number) {
  return rng.list(count, () => ({
    git_commit_hash: rng.hex(40),
    git_commit_name: `v6.${rng.int(6, 16)}`,
    earliest_start_time: rng.time(),
    ...summary(rng),
  }));
}

export const treeList: ResourceBuilder = (rng) =>
  rng.list(8, () => ({
    ...checkout(rng),
    build_status: rng.statusCounts(400),
    boot_status: rng.statusCounts(300),
    test_status: rng.statusCounts(5000),
  }));

export const treeFull: ResourceBuilder = (rng, { params }) => ({
  checkout: checkout(rng, params.treeName, params.gitBranch, params.commitHash),
  summary: summary(rng),
  builds: rng.list(5, () => build(rng)),
  boots: rng.list(5, () => test(rng)),
  tests: rng.list(10, () => test(rng)),
});

export const treeSummary: ResourceBuilder = (rng, { params }) => ({
  checkout: checkout(rng, params.treeName, params.gitBranch, params.commitHash),
  summary: summary(rng),
  filters: { architectures: [...ARCHITECTURES], configs: [...CONFIGS], compilers: [...COMPILERS] },
});

export const treeBuilds: ResourceBuilder = (rng) => ({ builds: rng.list(12, () => build(rng)) });
export const treeBoots: ResourceBuilder = (rng) => ({ boots: rng.list(12, () => test(rng)) });
export const treeTests: ResourceBuilder = (rng) => ({ tests: rng.list(20, () => test(rng)) });
export const treeCommits: ResourceBuilder = (rng) => commits(rng, 6);

export const commitsHistory: ResourceBuilder = (rng, { query }) => ({
  origin: query.origin ?? 'maestro',
  commits: commits(rng, 4),
});

export const treeLatest: ResourceBuilder = (rng, { params }) => ({
  ...checkout(rng, params.treeName, params.gitBranch),
  api_url: `/api/tree/${params.treeName}/${params.gitBranch}/${rng.hex(40)}/summary`,
});

export const treeCompare: ResourceBuilder = (rng, { params, query }) => ({
  tree_name: params.treeName,
  git_repository_branch: params.gitBranch,
  base: query.base ?? rng.hex(40),
  head: query.head ?? rng.hex(40),
  fixed: rng.int(0, 20),
  new_regressions: rng.int(0, 12),
  unstable: rng.int(0, 8),
  items: rng.list(6, () => ({ ...test(rng), previous_status: rng.pick(STATUSES) })),
});

export { build as buildItem, checkout as checkoutItem, summary as summaryItem, test as testItem };
