/**
 * Worker programs made of a README's code block, verbatim, and a minimal wrapper that the README leaves to
 * the user: a route to request (Koa's root README block has none) and a listen on port 0 that reports the port.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { snippet } from './readme.js';

export type Framework = 'koa' | 'express';

/** The README block each framework's app runs. */
export function readmeCode(framework: Framework): { file: string; code: string } {
  return framework === 'koa'
    ? { file: 'README.md (Use it in your app)', code: snippet('README.md', 'koaMetrics', 'Use it in your app') }
    : { file: 'packages/express/README.md (Usage)', code: snippet('packages/express/README.md', 'openStore', 'Usage') };
}

/** The route every request goes to, and its template. */
export const ROUTE_TEMPLATE = '/api/tree/:commitHash/full';
export const routePath = (i: number) => `/api/tree/${(0x5eed0000 + i).toString(16)}/full`;

// Names the README code cannot be using, so the wrapper never collides with it. ESM hoists imports, so an
// import at the end is valid.
const LISTEN = `
// PORT: PM2's cluster mode shares one port between the instances; plain processes take any free one.
const serverOfThePackagingTest = app.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  console.log(\`listening \${serverOfThePackagingTest.address().port}\`);
});
`;
// A README block that listens itself (on PORT) gets its port reported by the server it starts.
const REPORT = `
import { Server as ServerOfThePackagingTest } from 'node:http';
const listenOfThePackagingTest = ServerOfThePackagingTest.prototype.listen;
ServerOfThePackagingTest.prototype.listen = function (...args) {
  this.once('listening', () => console.log(\`listening \${this.address().port}\`));
  return listenOfThePackagingTest.apply(this, args);
};
`;
const KOA_ROUTE = `
import RouterOfThePackagingTest from '@koa/router';
const routerOfThePackagingTest = new RouterOfThePackagingTest({ prefix: '/api' });
routerOfThePackagingTest.get('/tree/:commitHash/full', (ctx) => {
  ctx.body = { ok: true };
});
app.use(routerOfThePackagingTest.routes());
`;

/** Writes the worker into the app (`worker-<framework>.mjs` unless named) and returns its file name. */
export async function writeWorker(
  appDir: string,
  framework: Framework,
  name = `worker-${framework}.mjs`,
): Promise<string> {
  const { file, code } = readmeCode(framework);
  const body = framework === 'koa' && !code.includes('/tree/:commitHash/full') ? `${code}${KOA_ROUTE}` : code;
  const program = /\bapp\.listen\(/.test(code)
    ? `// The packaging test's wrapper:${REPORT}\n// ${file}, verbatim:\n${body}\n`
    : `// ${file}, verbatim:\n${body}\n// The packaging test's wrapper:${LISTEN}`;
  await writeFile(join(appDir, name), program);
  return name;
}
