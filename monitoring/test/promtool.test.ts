import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { binaryOrSkip } from './support/binaries.js';
import { testPrometheusConfig } from './support/config.js';
import { alertRules } from './support/dashboard.js';
import { MONITORING_DIR, readRepoFile } from './support/repo.js';

const run = promisify(execFile);
const promtool = binaryOrSkip('promtool');

interface PromtoolResult {
  code: number;
  output: string;
}

async function promtoolRun(args: string[], cwd = MONITORING_DIR): Promise<PromtoolResult> {
  try {
    const { stdout, stderr } = await run(promtool as string, args, { cwd });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

describe.skipIf(!promtool)('monitoring files pass promtool', () => {
  it('prometheus.yml is a valid configuration and loads alerts.yml', async () => {
    const result = await promtoolRun(['check', 'config', 'prometheus.yml']);
    expect(result.output).toContain('SUCCESS: 1 rule files found');
    expect(result.code, result.output).toBe(0);
  });

  it('alerts.yml holds valid rules, templates included', async () => {
    const result = await promtoolRun(['check', 'rules', 'alerts.yml']);
    expect(result.output).toContain(`SUCCESS: ${alertRules().length} rules found`);
    expect(result.code, result.output).toBe(0);
  });

  it('the alert unit tests in alerts.test.yml pass', async () => {
    const result = await promtoolRun(['test', 'rules', 'alerts.test.yml']);
    expect(result.code, result.output).toBe(0);
    expect(result.output).toContain('SUCCESS');
  });

  it('promtool reports a broken expectation (the unit tests can fail)', async () => {
    // Guards against a test file that silently checks nothing: flip one expectation and promtool must fail.
    const dir = await mkdtemp(join(tmpdir(), 'kci-alerts-'));
    try {
      await writeFile(join(dir, 'alerts.yml'), readRepoFile('monitoring/alerts.yml'));
      const broken = readRepoFile('monitoring/alerts.test.yml').replace('route: /api/tree/\n', 'route: /api/issue/\n');
      await writeFile(join(dir, 'alerts.test.yml'), broken);
      const result = await promtoolRun(['test', 'rules', 'alerts.test.yml'], dir);
      expect(result.code).not.toBe(0);
      expect(result.output).toContain('KciHighErrorRatio');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  describe('the configuration as the tests rewrite it', () => {
    let dir = '';
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'kci-promconfig-'));
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    for (const [name, options] of [
      ['static targets', { targets: ['127.0.0.1:9101', '127.0.0.1:9102'] }],
      ['file-based service discovery', { fileSd: 'targets.json' }],
    ] as const) {
      it(`is still valid with ${name}`, async () => {
        const { config, files } = testPrometheusConfig(options);
        await writeFile(join(dir, 'prometheus.yml'), config);
        for (const [file, text] of Object.entries(files)) await writeFile(join(dir, file), text);
        await writeFile(join(dir, 'targets.json'), '[]\n');
        const result = await promtoolRun(['check', 'config', 'prometheus.yml'], dir);
        expect(result.code, result.output).toBe(0);
        const job = (parse(config) as { scrape_configs: Array<Record<string, unknown>> }).scrape_configs[0];
        expect(job).toMatchObject({ job_name: 'kci-metrics', metrics_path: '/metrics/', scrape_interval: '1s' });
      });
    }
  });
});

describe('alerts.test.yml covers every alert', () => {
  const tests = (
    parse(readRepoFile('monitoring/alerts.test.yml')) as {
      tests: Array<{ alert_rule_test?: Array<{ alertname: string; exp_alerts?: unknown[] }> }>;
    }
  ).tests.flatMap((t) => t.alert_rule_test ?? []);

  for (const rule of alertRules()) {
    it(`${rule.alert} is tested firing and not firing`, () => {
      const cases = tests.filter((t) => t.alertname === rule.alert);
      expect(
        cases.some((c) => (c.exp_alerts ?? []).length > 0),
        'a case where it fires',
      ).toBe(true);
      expect(
        cases.some((c) => (c.exp_alerts ?? []).length === 0),
        'a case where it stays silent',
      ).toBe(true);
    });
  }
});
