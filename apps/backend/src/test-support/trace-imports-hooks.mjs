// Module resolution hooks for trace-imports.mjs (they run on Node's loader thread, same process).
const METRICS = /prom-client|better-sqlite3|@kci-metrics|packages\/(core|koa|express|sqlite-store)\//;

export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  if (METRICS.test(resolved.url)) process.stderr.write(`[imports] ${process.pid} ${resolved.url}\n`);
  return resolved;
}
