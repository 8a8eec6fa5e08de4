// `node --import` this file (see broken-driver.ts): `better-sqlite3` then resolves to KCI_BROKEN_DRIVER.
import { register } from 'node:module';
import { pathToFileURL } from 'node:url';

register('./broken-driver-hooks.mjs', import.meta.url, { data: pathToFileURL(process.env.KCI_BROKEN_DRIVER).href });
