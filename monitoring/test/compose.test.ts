/**
 * No Docker engine runs here, so these tests prove what `docker compose up` would rely on: every file a
 * compose file mounts or builds exists, and the ports, paths, hosts and variables agree across
 * docker-compose*.yml, prometheus.yml, the Grafana provisioning, the Dockerfile and .env.backend.example.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join, posix } from 'node:path';
import { loadAggregatorConfig } from '@kci-metrics/aggregator';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadCompose, mounts, parseEnvFile, ports, service } from './support/compose.js';
import { readRepoFile, repoPath } from './support/repo.js';

const monitoring = loadCompose('docker-compose.monitoring.yml');
const app = loadCompose('docker-compose.yml');
const prometheusYml = parse(readRepoFile('monitoring/prometheus.yml')) as {
  rule_files: string[];
  scrape_configs: Array<{
    job_name: string;
    metrics_path?: string;
    scrape_interval?: string;
    static_configs: Array<{ targets: string[] }>;
  }>;
};
const scrapeJob = prometheusYml.scrape_configs.find((j) => j.job_name === 'kci-metrics');
const [target] = scrapeJob?.static_configs[0]?.targets ?? [];
const [targetHost, targetPort] = (target ?? '').split(':');
const envExample = parseEnvFile(readRepoFile('.env.backend.example'));
const envValue = (key: string) => envExample.find((e) => e.key === key && !e.optional)?.value;

describe('docker-compose.monitoring.yml', () => {
  const prometheus = service(monitoring, 'prometheus');
  const grafana = service(monitoring, 'grafana');

  it('mounts only files and directories that exist, read-only', () => {
    for (const svc of [prometheus, grafana]) {
      for (const m of mounts(svc).filter((m) => m.bind)) {
        expect(existsSync(repoPath(m.source)), m.source).toBe(true);
        expect(m.readOnly, m.source).toBe(true);
      }
      for (const m of mounts(svc).filter((m) => !m.bind)) expect(monitoring.volumes, m.source).toHaveProperty(m.source);
    }
  });

  it('gives Prometheus the repository prometheus.yml and, beside it, every rule file it loads', () => {
    const configFlag = prometheus.command?.find((c) => c.startsWith('--config.file='));
    const configPath = configFlag?.slice('--config.file='.length) ?? '/etc/prometheus/prometheus.yml';
    const byTarget = new Map(mounts(prometheus).map((m) => [m.target, m.source]));
    expect(byTarget.get(configPath)).toBe('monitoring/prometheus.yml');
    expect(prometheusYml.rule_files.length).toBeGreaterThan(0);
    for (const rules of prometheusYml.rule_files) {
      expect(byTarget.get(posix.join(posix.dirname(configPath), rules)), rules).toBe(`monitoring/${rules}`);
    }
  });

  it('lets Prometheus reach the backend on the Docker host where prometheus.yml looks for it', () => {
    expect(targetHost).toBe('host.docker.internal');
    expect(scrapeJob?.metrics_path).toBe('/metrics/');
    expect(scrapeJob?.scrape_interval).toBe('15s');
    expect(prometheus.extra_hosts).toContain('host.docker.internal:host-gateway');
    expect(ports(prometheus)).toContainEqual({ host: 9090, container: 9090 });
  });

  it('provisions the Prometheus datasource at the prometheus service, with its scrape interval', () => {
    const byTarget = new Map(mounts(grafana).map((m) => [m.target, m.source]));
    expect(byTarget.get('/etc/grafana/provisioning')).toBe('monitoring/grafana/provisioning');
    const provisioned = parse(readRepoFile('monitoring/grafana/provisioning/datasources/prometheus.yml')) as {
      datasources: Array<{ type: string; url: string; isDefault?: boolean; jsonData?: { timeInterval?: string } }>;
    };
    const [ds] = provisioned.datasources;
    expect(ds).toMatchObject({ type: 'prometheus', url: 'http://prometheus:9090', isDefault: true });
    expect(ds?.jsonData?.timeInterval).toBe(scrapeJob?.scrape_interval);
  });

  it('provisions dashboard.json from the directory it is mounted in, and opens it on login', () => {
    const dashboardMount = mounts(grafana).find((m) => m.source === 'monitoring/dashboard.json');
    expect(dashboardMount).toBeDefined();
    const providers = parse(readRepoFile('monitoring/grafana/provisioning/dashboards/dashboards.yml')) as {
      providers: Array<{ type: string; options: { path: string } }>;
    };
    expect(providers.providers).toEqual([
      expect.objectContaining({
        type: 'file',
        options: expect.objectContaining({ path: posix.dirname(dashboardMount?.target ?? '') }),
      }),
    ]);
    expect(grafana.environment?.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH).toBe(dashboardMount?.target);
    expect(grafana.environment).toMatchObject({ GF_SECURITY_ADMIN_USER: 'admin', GF_SECURITY_ADMIN_PASSWORD: 'admin' });
    expect(ports(grafana)).toContainEqual({ host: 3000, container: 3000 });
  });

  it('provisions nothing the compose file does not mount', () => {
    const dir = repoPath('monitoring/grafana/provisioning');
    expect(readdirSync(dir).sort()).toEqual(['dashboards', 'datasources']);
  });
});

describe('docker-compose.yml and .env.backend.example', () => {
  const backend = service(app, 'backend');

  it('builds the backend from the repository root with apps/backend/Dockerfile', () => {
    expect(backend.build?.context).toBe('.');
    expect(existsSync(repoPath(backend.build?.dockerfile ?? ''))).toBe(true);
  });

  it('configures the backend from .env.backend, optional so a fresh clone starts', () => {
    expect(backend.env_file).toEqual([{ path: '.env.backend', required: false }]);
  });

  it('publishes the API and the aggregator on the ports .env.backend.example sets and prometheus.yml scrapes', () => {
    expect(ports(backend)).toEqual([
      { host: 8000, container: Number(envValue('BACKEND_PORT')) },
      { host: Number(targetPort), container: Number(envValue('PROMETHEUS_METRICS_PORT')) },
    ]);
  });

  it('binds both listeners to all interfaces inside the container', () => {
    expect(backend.environment).toMatchObject({ BACKEND_HOST: '0.0.0.0', PROMETHEUS_METRICS_HOST: '0.0.0.0' });
  });

  it('.env.backend.example is a valid configuration that turns metrics on', () => {
    const env = Object.fromEntries(envExample.filter((e) => !e.optional).map((e) => [e.key, e.value]));
    const withOptional = Object.fromEntries(envExample.map((e) => [e.key, e.value]));
    expect(loadAggregatorConfig({ ...env, ...backend.environment })).toMatchObject({
      enabled: true,
      port: 8001,
      host: '0.0.0.0',
    });
    // Uncommenting every optional line must still give a valid configuration.
    expect(() => loadAggregatorConfig(withOptional)).not.toThrow();
  });
});

describe('apps/backend/Dockerfile', () => {
  const dockerfile = readRepoFile('apps/backend/Dockerfile');
  const instructions = dockerfile.split('\n').filter((l) => /^[A-Z]+ /.test(l));
  const rootPackage = JSON.parse(readRepoFile('package.json')) as { packageManager: string };

  it('builds on Node 20 with the pnpm version package.json pins', () => {
    expect(instructions.filter((l) => l.startsWith('FROM '))).toEqual([
      'FROM node:20-bookworm AS build',
      'FROM node:20-bookworm-slim',
    ]);
    const pnpm = rootPackage.packageManager.replace(/^pnpm@/, '');
    expect(dockerfile).toContain(`npm install --global pnpm@${pnpm}`);
    expect(dockerfile).toContain('pnpm install --frozen-lockfile');
  });

  it('copies every workspace package manifest before the frozen install', () => {
    const workspace = parse(readRepoFile('pnpm-workspace.yaml')) as { packages: string[] };
    const manifests = workspace.packages.flatMap((glob) => {
      const dirs = glob.endsWith('/*')
        ? readdirSync(repoPath(glob.slice(0, -2)), { withFileTypes: true })
            .filter((d) => d.isDirectory())
            .map((d) => `${glob.slice(0, -2)}/${d.name}`)
        : [glob];
      return dirs.filter((d) => existsSync(join(repoPath(d), 'package.json'))).map((d) => `${d}/package.json`);
    });
    const install = instructions.findIndex((l) => l.includes('pnpm install'));
    const copied = instructions.slice(0, install).filter((l) => l.startsWith('COPY '));
    for (const manifest of manifests) {
      expect(
        copied.some((l) => l.split(' ').includes(manifest)),
        manifest,
      ).toBe(true);
    }
  });

  it('runs the compiled backend entry point and exposes both ports', () => {
    expect(instructions).toContain('CMD ["node", "apps/backend/dist/main.js"]');
    // The build writes src/*.ts to dist/*.js (tsconfig rootDir src, outDir dist).
    const tsconfig = JSON.parse(readRepoFile('apps/backend/tsconfig.json')) as {
      compilerOptions: { rootDir: string; outDir: string };
    };
    expect(tsconfig.compilerOptions).toMatchObject({ rootDir: 'src', outDir: 'dist' });
    expect(existsSync(repoPath('apps/backend/src/main.ts'))).toBe(true);
    expect(instructions).toContain(
      `EXPOSE ${ports(service(app, 'backend'))
        .map((p) => p.container)
        .join(' ')}`,
    );
  });

  it('keeps host builds, dependencies and local secrets out of the build context', () => {
    const ignored = readRepoFile('apps/backend/Dockerfile.dockerignore').split('\n');
    for (const pattern of ['**/node_modules', '**/dist', '.env*', '.git']) expect(ignored).toContain(pattern);
  });
});
