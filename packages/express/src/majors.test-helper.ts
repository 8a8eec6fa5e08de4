/**
 * The Express versions the tests run against (issue 14): the peer range is `^4.17.0 || ^5.0.0`, so the
 * oldest and the newest 4 in it, and the newest 5. Express 4 keeps its own router (express/lib/router);
 * Express 5 uses the `router` package. `express4` and `express417` are npm aliases (package.json), typed
 * with Express 5's types (express-aliases.d.ts).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import express5 from 'express';
import express4 from 'express4';
import express417 from 'express417';

export type ExpressModule = typeof express5;

export interface Major {
  /** e.g. `Express 4.17.0`, for test names. */
  name: string;
  major: 4 | 5;
  express: ExpressModule;
}

const require = createRequire(import.meta.url);
const versionOf = (name: string): string =>
  (JSON.parse(readFileSync(require.resolve(`${name}/package.json`), 'utf8')) as { version: string }).version;

/** Express 4 first: route-walk.test.ts checks that nothing subscribes to router 2.3's channel before 5 runs. */
export const MAJORS: readonly Major[] = [
  { name: `Express ${versionOf('express417')}`, major: 4, express: express417 },
  { name: `Express ${versionOf('express4')}`, major: 4, express: express4 },
  { name: `Express ${versionOf('express')}`, major: 5, express: express5 },
];
