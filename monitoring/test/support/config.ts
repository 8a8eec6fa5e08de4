import { parse, stringify } from 'yaml';
import { readRepoFile } from './repo.js';

/** The scrape job of monitoring/prometheus.yml that the alert rules and the dashboard rely on. */
export const SCRAPE_JOB = 'kci-metrics';

export interface TestConfigOptions {
  /** Static targets (`host:port`) for the kci-metrics job. */
  targets?: readonly string[];
  /** Instead of static targets: a file_sd target file in Prometheus's work dir (see fileSdTargets). */
  fileSd?: string;
  /** Scrape and rule evaluation interval. Default `1s`. */
  interval?: string;
  /** Load monitoring/alerts.yml (written beside the config). Default true. */
  rules?: boolean;
}

export interface TestConfig {
  /** prometheus.yml text for startPrometheus({ config }). */
  config: string;
  /** Files for startPrometheus({ files }): alerts.yml when rules are on. */
  files: Record<string, string>;
}

interface ScrapeConfig {
  job_name: string;
  scrape_interval?: string;
  scrape_timeout?: string;
  static_configs?: Array<{ targets: string[]; labels?: Record<string, string> }>;
  file_sd_configs?: Array<{ files: string[]; refresh_interval?: string }>;
  [key: string]: unknown;
}

/**
 * The repository's monitoring/prometheus.yml with only what a test must change rewritten: the targets of
 * the kci-metrics job (static or file_sd) and the intervals. Everything else (metrics_path, job name,
 * external labels, rule files) is kept, so a test scraping with it proves the shipped file. Other jobs
 * (Prometheus scraping itself on :9090) are dropped: their ports mean nothing on a test machine.
 *
 * @example
 * const { config, files } = testPrometheusConfig({ targets: [`127.0.0.1:${aggregatorPort}`] });
 * const prom = await startPrometheus({ config, files });
 */
export function testPrometheusConfig(options: TestConfigOptions): TestConfig {
  const interval = options.interval ?? '1s';
  const doc = parse(readRepoFile('monitoring/prometheus.yml')) as {
    global?: Record<string, unknown>;
    rule_files?: string[];
    scrape_configs: ScrapeConfig[];
  };
  const job = doc.scrape_configs.find((c) => c.job_name === SCRAPE_JOB);
  if (!job) throw new Error(`monitoring/prometheus.yml has no scrape job "${SCRAPE_JOB}"`);
  if ((options.targets === undefined) === (options.fileSd === undefined)) {
    throw new Error('testPrometheusConfig needs exactly one of targets and fileSd');
  }
  doc.global = { ...doc.global, scrape_interval: interval, evaluation_interval: interval };
  job.scrape_interval = interval;
  job.scrape_timeout = interval;
  delete job.static_configs;
  delete job.file_sd_configs;
  if (options.targets) job.static_configs = [{ targets: [...options.targets] }];
  if (options.fileSd) job.file_sd_configs = [{ files: [options.fileSd], refresh_interval: interval }];
  doc.scrape_configs = [job];

  const files: Record<string, string> = {};
  if (options.rules ?? true) {
    for (const name of doc.rule_files ?? []) files[name] = readRepoFile(`monitoring/${name}`);
  } else {
    delete doc.rule_files;
  }
  return { config: stringify(doc), files };
}

/**
 * A file_sd target file (JSON) listing targets with optional extra labels, for file_sd_configs.
 *
 * @example
 * await prom.writeFile('targets.json', fileSdTargets([{ targets: ['127.0.0.1:9101'], labels: { host: 'a' } }]));
 */
export function fileSdTargets(
  groups: ReadonlyArray<{ targets: readonly string[]; labels?: Record<string, string> }>,
): string {
  return `${JSON.stringify(groups, null, 2)}\n`;
}
