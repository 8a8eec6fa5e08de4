/**
 * monitoring/dashboard.json checked against Grafana's published schema package, `@grafana/schema`, at the
 * version of the Grafana image in docker-compose.monitoring.yml (12.4). The package ships TypeScript types, no
 * JSON schema, so the dashboard is written out as object literals typed by them and compiled with tsc: an
 * object literal gets excess-property checks, so a misspelt or misplaced field is an error, and so is a value
 * outside one of the schema's enums. Each panel's `options` and `fieldConfig.defaults.custom` are checked
 * against the panel plugin's own types (`raw/composable/<type>/panelcfg`), one literal per panel, annotation
 * and variable, so tsc reports every error rather than the first one of a single huge literal.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { loadDashboard } from './support/dashboard.js';
import { REPO_ROOT, readRepoFile } from './support/repo.js';

const require = createRequire(import.meta.url);
const SCHEMA = dirname(require.resolve('@grafana/schema/package.json'));
const TYPES = join(SCHEMA, 'dist', 'types');
const TSC = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

/** Panel types with their plugin's types in the package (`FieldConfig` only for plugins that have one). */
const PANEL_TYPES: Record<string, { dir: string; fieldConfig: boolean }> = {
  timeseries: { dir: 'timeseries', fieldConfig: true },
  stat: { dir: 'stat', fieldConfig: false },
  bargauge: { dir: 'bargauge', fieldConfig: false },
  table: { dir: 'table', fieldConfig: true },
};

/**
 * Fields Grafana reads and writes that the schema package does not describe, each with the reason. They are
 * taken off before the check, and the test fails if the dashboard's set of them differs from this list, so it
 * cannot grow unseen.
 */
const OUTSIDE_THE_SCHEMA: Record<string, string> = {
  // The Prometheus data source's annotation fields: its query type is not in @grafana/schema, and Grafana's
  // Prometheus plugin reads them from the annotation itself (moving them into `target` when it loads).
  'annotations.list[1].expr': 'Prometheus annotation query',
  'annotations.list[1].step': 'Prometheus annotation query',
  'annotations.list[1].titleFormat': 'Prometheus annotation query',
  'annotations.list[1].textFormat': 'Prometheus annotation query',
  'annotations.list[1].useValueForTime': 'Prometheus annotation query',
  // The variable editor's display form of the query, written by Grafana on every save of a query variable.
  'templating.list[1].definition': 'query variable display text',
  'templating.list[2].definition': 'query variable display text',
};

type Json = Record<string, unknown>;
const literal = (value: unknown) => JSON.stringify(value, null, 2);

/** The TypeScript program: one typed literal per panel, target, annotation and variable, and the rest. */
function program(dashboard: Json): { source: string; unknownPanelTypes: string[]; outside: string[] } {
  const d = structuredClone(dashboard) as Json & {
    panels: Json[];
    annotations: { list: Json[] };
    templating: { list: Json[] };
  };
  const outside: string[] = [];
  const take = (path: string, object: Json, key: string) => {
    if (key in object && `${path}.${key}` in OUTSIDE_THE_SCHEMA) {
      outside.push(`${path}.${key}`);
      delete object[key];
    }
  };
  const lines = [
    `import type { AnnotationQuery, Dashboard, DataQuery, FieldConfig, FieldConfigSource, Panel, RowPanel, VariableModel } from '${TYPES}/index.js';`,
    ...Object.entries(PANEL_TYPES).map(
      ([type, { dir }]) => `import type * as ${type} from '${TYPES}/raw/composable/${dir}/panelcfg/x/types.gen.js';`,
    ),
    // JSON has the values of the schema's string enums, not the enums: `${E}` is the union of an enum's values.
    // biome-ignore lint/suspicious/noTemplateCurlyInString: TypeScript source, not a template literal.
    'type J<T> = T extends string ? `${T}` : T extends readonly (infer U)[] ? J<U>[] : T extends object ? { [K in keyof T]: J<T[K]> } : T;',
    // A plugin's options and custom field config may leave out any field: Grafana fills in the plugin's defaults.
    'type P<T> = T extends readonly (infer U)[] ? P<U>[] : T extends object ? { [K in keyof T]?: P<T[K]> } : T;',
    'type Typed<O, C> = Omit<Panel, "options" | "fieldConfig" | "targets"> & { options?: P<O>; fieldConfig?: Omit<FieldConfigSource, "defaults"> & { defaults: Omit<FieldConfig, "custom"> & { custom?: P<C> } } };',
    // The Prometheus query type is not in the package: a target is checked for the common DataQuery fields.
    'type Target = J<DataQuery> & Record<string, unknown>;',
  ];
  const unknownPanelTypes: string[] = [];
  let n = 0;
  const panel = (p: Json) => {
    const i = n++;
    const { targets, panels, ...rest } = p as Json & { targets?: Json[]; panels?: Json[] };
    for (const [j, t] of (targets ?? []).entries())
      lines.push(`export const panel${i}_target${j}: Target = ${literal(t)};`);
    if (p.type === 'row') {
      lines.push(`export const panel${i}: J<RowPanel> = ${literal({ ...rest, panels: [] })};`);
      for (const child of panels ?? []) panel(child);
      return;
    }
    const spec = PANEL_TYPES[String(p.type)];
    if (!spec) {
      unknownPanelTypes.push(String(p.type));
      return;
    }
    const custom = spec.fieldConfig ? `${p.type}.FieldConfig` : 'never';
    lines.push(`export const panel${i}: J<Typed<${p.type}.Options, ${custom}>> = ${literal(rest)};`);
  };
  for (const p of d.panels) panel(p);
  for (const [i, a] of d.annotations.list.entries()) {
    for (const key of Object.keys(a)) take(`annotations.list[${i}]`, a, key);
    lines.push(`export const annotation${i}: J<AnnotationQuery> = ${literal(a)};`);
  }
  for (const [i, v] of d.templating.list.entries()) {
    for (const key of Object.keys(v)) take(`templating.list[${i}]`, v, key);
    lines.push(`export const variable${i}: J<VariableModel> = ${literal(v)};`);
  }
  const { panels: _p, annotations: _a, templating: _t, ...top } = d;
  lines.push(
    `export const dashboard: J<Dashboard> = ${literal({ ...top, panels: [], annotations: { list: [] }, templating: { list: [] } })};`,
  );
  return { source: `${lines.join('\n')}\n`, unknownPanelTypes, outside };
}

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function typecheck(
  dashboard: Json,
): Promise<{ errors: string[]; unknownPanelTypes: string[]; outside: string[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'kci-dashboard-schema-'));
  dirs.push(dir);
  const { source, unknownPanelTypes, outside } = program(dashboard);
  await writeFile(join(dir, 'dashboard.ts'), source);
  const options = {
    strict: true,
    noEmit: true,
    target: 'ES2022',
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    lib: ['ES2023', 'DOM'],
    types: [],
    // The package's own declarations are not what is checked here (and need Grafana's dev types).
    skipLibCheck: true,
  };
  await writeFile(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: options, files: ['dashboard.ts'] }));
  const result = await promisify(execFile)(process.execPath, [TSC, '-p', dir], { cwd: dir }).then(
    (r) => r.stdout,
    (e: { stdout?: string; stderr?: string }) => `${e.stdout ?? ''}${e.stderr ?? ''}`,
  );
  const errors = result.split('\n').filter((l) => /error TS\d+/.test(l));
  // An error's line, with the literal it sits in, so the report says which panel.
  const lines = source.split('\n');
  return {
    errors: errors.map((e) => {
      const at = Number(/\((\d+),/.exec(e)?.[1] ?? 0);
      const owner = lines
        .slice(0, at)
        .reverse()
        .find((l) => l.startsWith('export const'));
      return `${owner?.split(':')[0] ?? ''}: ${e.replace(/^.*error /, '')}`;
    }),
    unknownPanelTypes,
    outside,
  };
}

describe('dashboard.json against @grafana/schema', () => {
  it('is the schema of the Grafana version the compose file runs', () => {
    const version: string = require('@grafana/schema/package.json').version;
    const image = /grafana\/grafana:(\d+\.\d+)/.exec(readRepoFile('docker-compose.monitoring.yml'))?.[1];
    expect(version.split('.').slice(0, 2).join('.')).toBe(image);
  });

  it('type-checks as a Dashboard, every panel against its plugin types, with only the listed fields outside', async () => {
    const { errors, unknownPanelTypes, outside } = await typecheck(loadDashboard() as unknown as Json);
    expect(unknownPanelTypes).toEqual([]);
    expect(errors).toEqual([]);
    expect(outside.sort()).toEqual(Object.keys(OUTSIDE_THE_SCHEMA).sort());
  });

  it('would catch a misspelt option, a misplaced field and a value outside an enum', async () => {
    const dashboard = structuredClone(loadDashboard()) as unknown as Json & { panels: Json[] };
    const first = dashboard.panels.find((p) => p.type === 'timeseries') as Json & { options: Json; fieldConfig: Json };
    first.options = { ...first.options, legendd: {} };
    (first.fieldConfig as { defaults: Json }).defaults.unit2 = 's';
    (dashboard.panels.find((p) => p.type === 'stat') as Json & { options: Json }).options.colorMode = 'rainbow';
    const { errors } = await typecheck(dashboard);
    const text = errors.join('\n');
    expect(text).toMatch(/legendd/);
    expect(text).toMatch(/unit2/);
    expect(text).toMatch(/rainbow/);
    expect(errors.length).toBeGreaterThanOrEqual(3);
  });
});
