/**
 * The in-process emulator of demo mode. Imported lazily (`await import(…)`) by the app when no
 * B24_CLIENT_ID is set, so that `import 'b24kit'` in production never loads the emulator.
 */
import { startEmulator, type RunningEmulator } from '../../emulator/server.js';
import { DEMO_CLIENT_ID, DEMO_CLIENT_SECRET } from './demo.js';

export async function startDemoEmulator(): Promise<RunningEmulator> {
  return startEmulator({ port: 0, host: '127.0.0.1', clientId: DEMO_CLIENT_ID, clientSecret: DEMO_CLIENT_SECRET });
}
