// An application that serves the store with createAggregatorServer (the built package), as programmatic users
// do, without the command's start-up checks: prints "port <n>" once it listens on a loopback port.
// Usage: node serve.mjs <store dir>
import { openStore } from '@kci-metrics/sqlite-store';
import { createAggregatorServer } from '../../dist/index.js';

const store = openStore({ dir: process.argv[2] });
const server = createAggregatorServer({ store });
server.listen(0, '127.0.0.1', () => process.stdout.write(`port ${server.address().port}\n`));
process.once('SIGTERM', () => server.close(() => store.close()));
