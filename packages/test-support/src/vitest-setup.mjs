/**
 * Setup file of every project (kciProject): vitest starts its workers with its resolve conditions as
 * `--conditions` flags, and a child process started with fork() (or a cluster worker) inherits the worker's
 * process.execArgv. A child must run the built dist/, as a user's process would, not the src/*.ts that the
 * source condition points at (Node.js runs no TypeScript), so that one flag is taken out of execArgv here.
 * The worker itself is unaffected: vitest resolves the workspace packages itself, and Node.js read the flags
 * when the worker started.
 */
import { SOURCE_CONDITION } from './vitest.mjs';

const kept = [];
for (let i = 0; i < process.execArgv.length; i++) {
  const arg = process.execArgv[i];
  if ((arg === '--conditions' || arg === '-C') && process.execArgv[i + 1] === SOURCE_CONDITION) i++;
  else if (arg !== `--conditions=${SOURCE_CONDITION}` && arg !== `-C=${SOURCE_CONDITION}`) kept.push(arg);
}
process.execArgv.splice(0, process.execArgv.length, ...kept);
