/**
 * Issue 6, Security: the aggregator's optional authentication, seen by a real Prometheus. Two demo
 * backends, one whose aggregator requires a bearer token (PROMETHEUS_METRICS_AUTH_TOKEN_FILE), one basic
 * auth (PROMETHEUS_METRICS_BASIC_AUTH_USER/_PASSWORD). One Prometheus scrapes each with the scrape
 * options docs/monitoring.md shows (taken from the document itself), and again without or with wrong
 * credentials: those targets are down with a 401 and store no series.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { type DemoBackend, startDemoBackend } from './support/backend.js';
import { binaryOrSkip } from './support/binaries.js';
import { SCRAPE_JOB, testPrometheusConfig } from './support/config.js';
import { type RunningPrometheus, startPrometheus } from './support/prometheus.js';
import { readRepoFile } from './support/repo.js';
import { sendPlanned } from './support/requests.js';
import { waitUntil } from './support/wait.js';

const prometheus = binaryOrSkip('prometheus');

const TOKEN = 'c0ffee5e1f2a9b8d7e6f5a4b3c2d1e0f00112233445566778899aabbccddeeff';
const USER = 'prometheus';
const PASSWORD = 'correct horse battery staple';

type Job = Record<string, unknown> & { job_name: string };

/** The scrape job of the docs/monitoring.md snippet that uses `option` (`authorization`, `basic_auth`). */
function documentedJob(option: 'authorization' | 'basic_auth'): Job {
  const blocks = [...readRepoFile('docs/monitoring.md').matchAll(/```yaml\n(scrape_configs:\n[\s\S]*?)```/g)].map(
    (m) => parse(m[1] as string) as { scrape_configs: Job[] },
  );
  const jobs = blocks.flatMap((b) => b.scrape_configs).filter((j) => option in j);
  if (jobs.length !== 1)
    throw new Error(`docs/monitoring.md should show one scrape job with ${option}, found ${jobs.length}`);
  return jobs[0] as Job;
}

/** The documented secret file paths, pointed at files in Prometheus's work dir. */
function withFile<T extends Record<string, unknown>>(
  option: T,
  key: 'credentials_file' | 'password_file',
  file: string,
): T {
  if (typeof option[key] !== 'string')
    throw new Error(`the documented option has no ${key}: ${JSON.stringify(option)}`);
  return { ...option, [key]: file };
}

describe.skipIf(!prometheus)('authentication of the metrics endpoint, scraped by a real Prometheus', () => {
  let secrets = '';
  let bearer: DemoBackend;
  let basic: DemoBackend;
  let prom: RunningPrometheus;
  /** Job name -> { up, lastError }, once every target has been scraped. */
  let targets: Record<string, { up: number; lastError: string }> = {};

  beforeAll(async () => {
    secrets = await mkdtemp(join(tmpdir(), 'kci-auth-'));
    await writeFile(join(secrets, 'token'), `${TOKEN}\n`, { mode: 0o600 });
    const started = await Promise.allSettled([
      startDemoBackend({ workers: 1, env: { PROMETHEUS_METRICS_AUTH_TOKEN_FILE: join(secrets, 'token') } }),
      startDemoBackend({
        workers: 1,
        env: { PROMETHEUS_METRICS_BASIC_AUTH_USER: USER, PROMETHEUS_METRICS_BASIC_AUTH_PASSWORD: PASSWORD },
      }),
    ]);
    if (started[0].status === 'fulfilled') bearer = started[0].value;
    if (started[1].status === 'fulfilled') basic = started[1].value;
    for (const s of started) if (s.status === 'rejected') throw s.reason;
    await Promise.all([
      sendPlanned(bearer.apiUrl, [{ method: 'GET', path: '/api/tree/', route: '/api/tree/', status: 200, count: 3 }]),
      sendPlanned(basic.apiUrl, [{ method: 'GET', path: '/api/tree/', route: '/api/tree/', status: 200, count: 2 }]),
    ]);

    // The repository's job with the documented authorization, then the same job's variants for the other cases.
    const doc = parse(testPrometheusConfig({ targets: [bearer.target], rules: false }).config) as {
      scrape_configs: Job[];
    };
    const base = doc.scrape_configs[0] as Job;
    const documentedBearer = documentedJob('authorization');
    const documentedBasic = documentedJob('basic_auth');
    const authorization = withFile(
      documentedBearer.authorization as Record<string, unknown>,
      'credentials_file',
      'kci-metrics-token',
    );
    const basicAuth = withFile(
      documentedBasic.basic_auth as Record<string, unknown>,
      'password_file',
      'kci-metrics-password',
    );
    const variant = (name: string, target: string, auth: Record<string, unknown>): Job => {
      const { authorization: _a, basic_auth: _b, ...rest } = base;
      return { ...rest, job_name: name, static_configs: [{ targets: [target] }], ...auth };
    };
    doc.scrape_configs = [
      variant(SCRAPE_JOB, bearer.target, { authorization }),
      variant('bearer-none', bearer.target, {}),
      variant('bearer-wrong', bearer.target, { authorization: { ...authorization, credentials_file: 'wrong-token' } }),
      variant('basic', basic.target, { basic_auth: basicAuth }),
      variant('basic-none', basic.target, {}),
      variant('basic-wrong', basic.target, { basic_auth: { ...basicAuth, password_file: 'wrong-password' } }),
    ];
    expect(documentedBearer.metrics_path).toBe(base.metrics_path);
    expect(documentedBasic.metrics_path).toBe(base.metrics_path);

    prom = await startPrometheus({
      config: stringify(doc),
      files: {
        'kci-metrics-token': `${TOKEN}\n`,
        'wrong-token': 'not-the-token\n',
        'kci-metrics-password': `${PASSWORD}\n`,
        'wrong-password': 'Tr0ub4dor&3\n',
      },
    });
    targets = await waitUntil(
      async () => {
        const active = await prom.targets();
        if (active.length !== 6 || active.some((t) => t.health === 'unknown')) throw new Error(JSON.stringify(active));
        const up = await prom.instant('up');
        if (up.length !== 6) return undefined;
        return Object.fromEntries(
          active.map((t) => [
            t.labels.job,
            { up: up.find((s) => s.labels.job === t.labels.job)?.value ?? -1, lastError: t.lastError },
          ]),
        );
      },
      { what: 'every target scraped once' },
    );
  });
  afterAll(async () => {
    await prom?.stop();
    await Promise.all([bearer?.stop(), basic?.stop()]);
    if (secrets) await rm(secrets, { recursive: true, force: true });
  });

  it('with the documented bearer token (credentials_file) the target is up and its series arrive', async () => {
    expect(targets[SCRAPE_JOB]).toEqual({ up: 1, lastError: '' });
    const [calls] = await prom.instant(`http_request_duration_seconds_count{job="${SCRAPE_JOB}", route="/api/tree/"}`);
    expect(calls?.value).toBe(3);
  });

  it('with the documented basic auth (password_file) the target is up and its series arrive', async () => {
    expect(targets.basic).toEqual({ up: 1, lastError: '' });
    const [calls] = await prom.instant('http_request_duration_seconds_count{job="basic", route="/api/tree/"}');
    expect(calls?.value).toBe(2);
  });

  it('without credentials or with wrong ones: up is 0, the error is a 401, and no series is stored', async () => {
    for (const job of ['bearer-none', 'bearer-wrong', 'basic-none', 'basic-wrong']) {
      expect(targets[job]?.up, job).toBe(0);
      expect(targets[job]?.lastError, job).toContain('401');
    }
    const jobsWithData = await prom.instant('count by (job) ({__name__=~"http_.+|kci_metrics_.+"})');
    expect(jobsWithData.map((s) => s.labels.job).sort()).toEqual(['basic', SCRAPE_JOB]);
  });
});
