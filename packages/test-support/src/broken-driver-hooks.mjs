// Module hooks (node:module register): the bare specifier `better-sqlite3` resolves to the broken copy.
let target;

export function initialize(url) {
  target = url;
}

export function resolve(specifier, context, next) {
  if (specifier === 'better-sqlite3') return { url: target, format: 'commonjs', shortCircuit: true };
  return next(specifier, context);
}
