/**
 * `node dist/main.js` (`pnpm --filter backend start`): the demo backend with the configuration from the
 * environment only. See README.md for the variables; `demo.ts` adds the demo's defaults.
 */
import { exitOnStartupError } from './errors.js';
import { runPrimary } from './primary.js';

runPrimary().catch(exitOnStartupError);
