import { ConfigError } from '@kci-metrics/core';

const TRUE = new Set(['true', '1', 'yes', 'on']);
const FALSE = new Set(['false', '0', 'no', 'off']);

/** Parse a boolean variable: true/false, 1/0, yes/no, on/off in any case; unset or empty gives `fallback`. */
export function parseBoolean(key: string, raw: string | undefined, fallback: boolean): boolean {
  if (raw === undefined || raw.trim() === '') return fallback;
  const v = raw.trim().toLowerCase();
  if (TRUE.has(v)) return true;
  if (FALSE.has(v)) return false;
  throw new ConfigError(key, raw, 'true or false');
}

/** Parse a decimal integer variable within [min, max]; unset or empty gives `fallback`. */
export function parseInteger(key: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined || raw.trim() === '') return fallback;
  const v = raw.trim();
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) {
    throw new ConfigError(key, raw, `an integer ${min}-${max}`);
  }
  return Number(v);
}
