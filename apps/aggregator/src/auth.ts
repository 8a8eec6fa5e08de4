import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError } from '@kci-metrics/sqlite-store';

/** How scrapes must authenticate: not at all, with a bearer token, or with HTTP basic auth. */
export type AuthConfig =
  | { kind: 'none' }
  | { kind: 'bearer'; token: string }
  | { kind: 'basic'; user: string; password: string };

type Env = Record<string, string | undefined>;

const TOKEN = 'PROMETHEUS_METRICS_AUTH_TOKEN';
const USER = 'PROMETHEUS_METRICS_BASIC_AUTH_USER';
const PASSWORD = 'PROMETHEUS_METRICS_BASIC_AUTH_PASSWORD';
// A secret file is a few bytes; anything this big is the wrong file, and reading it whole would be a waste.
const MAX_SECRET_FILE_BYTES = 64 * 1024;

/**
 * Read the scrape authentication from the environment: a bearer token (`PROMETHEUS_METRICS_AUTH_TOKEN` or
 * `PROMETHEUS_METRICS_AUTH_TOKEN_FILE`) or basic auth (`PROMETHEUS_METRICS_BASIC_AUTH_USER` with
 * `PROMETHEUS_METRICS_BASIC_AUTH_PASSWORD` or `PROMETHEUS_METRICS_BASIC_AUTH_PASSWORD_FILE`). Files are read
 * once, here, and trimmed of surrounding whitespace, as Prometheus does with its `*_file` options.
 *
 * Throws a {@link ConfigError} naming the variable for every ambiguous or unusable setting (a token and basic
 * auth together, a value and its `_FILE` together, a user without a password, a missing or empty file).
 * Secret values are never quoted in errors: the message shows `[redacted]` and the length instead.
 *
 * @example
 * const auth = parseAuthConfig({ PROMETHEUS_METRICS_AUTH_TOKEN_FILE: '/run/secrets/metrics-token' });
 * // { kind: 'bearer', token: '...' }
 */
export function parseAuthConfig(env: Env = process.env): AuthConfig {
  const token = readSecret(env, TOKEN);
  const user = nonEmpty(env[USER]);
  const password = readSecret(env, PASSWORD);

  if (token !== undefined) {
    if (user !== undefined || password !== undefined) {
      const other = user !== undefined ? USER : password?.key;
      throw new ConfigError(token.key, token.shown, `a bearer token or basic auth, not both (${other} is set too)`);
    }
    if (!/^[\x21-\x7e]+$/.test(token.value)) {
      throw new ConfigError(token.key, token.shown, 'a token of visible ASCII characters without spaces');
    }
    return { kind: 'bearer', token: token.value };
  }
  if (user === undefined && password === undefined) return { kind: 'none' };
  if (user === undefined) {
    throw new ConfigError(password?.key ?? PASSWORD, password?.shown, `to be used with ${USER}, which is not set`);
  }
  if (password === undefined) {
    throw new ConfigError(USER, user, `to be used with ${PASSWORD} or ${PASSWORD}_FILE, neither is set`);
  }
  // RFC 7617: the user-id cannot contain a colon, it separates the user from the password.
  if (user.includes(':') || /[\r\n]/.test(user))
    throw new ConfigError(USER, user, 'a user name without ":" or line breaks');
  return { kind: 'basic', user, password: password.value };
}

interface Secret {
  value: string;
  /** The variable it came from (`X` or `X_FILE`). */
  key: string;
  /** What an error message may show: the file path, or a redacted placeholder for an inline secret. */
  shown: string;
}

function readSecret(env: Env, key: string): Secret | undefined {
  const inline = nonEmpty(env[key]);
  const fileKey = `${key}_FILE`;
  const file = nonEmpty(env[fileKey]);
  if (inline !== undefined && file !== undefined) {
    throw new ConfigError(fileKey, file, `either ${key} or ${fileKey}, not both`);
  }
  if (inline !== undefined) return { value: inline, key, shown: redacted(inline) };
  if (file === undefined) return undefined;
  let content: string;
  try {
    const bytes = readFileSync(file);
    if (bytes.length > MAX_SECRET_FILE_BYTES) throw new Error(`file is larger than ${MAX_SECRET_FILE_BYTES} bytes`);
    content = bytes.toString('utf8').trim();
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new ConfigError(fileKey, file, `a readable file holding the secret (${reason})`);
  }
  if (content === '') throw new ConfigError(fileKey, file, 'a file holding the secret, but the file is empty');
  return { value: content, key: fileKey, shown: file };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

function redacted(secret: string): string {
  return `[redacted, ${secret.length} characters]`;
}

/** The `WWW-Authenticate` challenge sent with a 401. */
export function authChallenge(auth: AuthConfig): string | undefined {
  if (auth.kind === 'bearer') return 'Bearer realm="metrics"';
  if (auth.kind === 'basic') return 'Basic realm="metrics", charset="UTF-8"';
  return undefined;
}

/**
 * True when the `Authorization` header satisfies `auth`. Secrets are compared through their SHA-256 digests
 * with `timingSafeEqual`, so the time taken tells an attacker neither the content nor the length.
 */
export function isAuthorized(auth: AuthConfig, header: string | undefined): boolean {
  if (auth.kind === 'none') return true;
  if (header === undefined) return false;
  const match = /^\s*(\S+)\s+(\S+)\s*$/.exec(header);
  if (match === null) return false;
  const scheme = (match[1] ?? '').toLowerCase();
  const credentials = match[2] ?? '';
  if (auth.kind === 'bearer') return scheme === 'bearer' && sameSecret(credentials, auth.token);
  if (scheme !== 'basic') return false;
  const decoded = Buffer.from(credentials, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return false;
  // Both halves are always compared, so a right user with a wrong password takes as long as a wrong user.
  const userOk = sameSecret(decoded.slice(0, colon), auth.user);
  const passwordOk = sameSecret(decoded.slice(colon + 1), auth.password);
  return userOk && passwordOk;
}

function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}
