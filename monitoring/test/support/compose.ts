import { posix } from 'node:path';
import { parse } from 'yaml';
import { readRepoFile } from './repo.js';

/** The parts of a Compose service the tests look at (https://docs.docker.com/reference/compose-file/services/). */
export interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile?: string };
  command?: string[];
  environment?: Record<string, string>;
  env_file?: Array<string | { path: string; required?: boolean }>;
  volumes?: string[];
  ports?: string[];
  extra_hosts?: string[];
  depends_on?: string[];
}

export interface ComposeFile {
  name?: string;
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

export interface Mount {
  /** A path relative to the repository root for a bind mount (`./x`), else the named volume. */
  source: string;
  target: string;
  bind: boolean;
  readOnly: boolean;
}

export interface PortMapping {
  host: number;
  container: number;
}

/** A compose file at the repository root, parsed. */
export function loadCompose(file: string): ComposeFile {
  return parse(readRepoFile(file)) as ComposeFile;
}

export function service(compose: ComposeFile, name: string): ComposeService {
  const found = compose.services[name];
  if (!found) throw new Error(`No service "${name}"`);
  return found;
}

/** The service's volumes in short syntax (`source:target[:ro]`), bind sources made relative to the root. */
export function mounts(svc: ComposeService): Mount[] {
  return (svc.volumes ?? []).map((spec) => {
    const [source = '', target = '', mode] = spec.split(':');
    const bind = source.startsWith('.') || source.startsWith('/');
    return { source: bind ? posix.normalize(source) : source, target, bind, readOnly: mode === 'ro' };
  });
}

/** The service's published ports in short syntax (`host:container`). */
export function ports(svc: ComposeService): PortMapping[] {
  return (svc.ports ?? []).map((spec) => {
    const parts = spec.split(':');
    if (parts.length !== 2) throw new Error(`Unsupported port mapping "${spec}": expected host:container`);
    return { host: Number(parts[0]), container: Number(parts[1]) };
  });
}

/**
 * An env file's variables: `KEY=value` lines, plus the commented-out `#KEY=value` lines that document an
 * optional setting (returned with `optional: true`).
 */
export function parseEnvFile(text: string): Array<{ key: string; value: string; optional: boolean }> {
  const entries: Array<{ key: string; value: string; optional: boolean }> = [];
  for (const line of text.split('\n')) {
    const m = /^(#)?([A-Z][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (m) entries.push({ key: m[2] as string, value: m[3] as string, optional: m[1] === '#' });
  }
  return entries;
}
