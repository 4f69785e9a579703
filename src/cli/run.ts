/**
 * Runs the CLI from source: `node --import tsx src/cli/run.ts emulator --port 0`.
 * bin/b24kit.js does the same from dist/ for installed copies.
 */
import { main } from './main.js';

await main(process.argv);
