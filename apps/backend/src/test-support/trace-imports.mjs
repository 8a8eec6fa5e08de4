// Loaded with `node --import` in tests: reports every metrics module a process resolves, on stderr, as
// `[imports] <pid> <url>`, to show that a worker with metrics off never loads any.
import { register } from 'node:module';

register(new URL('./trace-imports-hooks.mjs', import.meta.url));
