/**
 * The in-process emulator of demo mode. Imported lazily (`await import(…)`) by the app when no
 * B24_CLIENT_ID is set, so that `import 'b24kit'` in production never loads the emulator.
 *
 * It listens on a fixed port (3999 unless B24KIT_DEMO_EMULATOR_PORT says otherwise): the demo
 * portal's stored endpoints and the printed URLs stay the same from one `npm start` to the next.
 * A taken port is not an error: the emulator takes a free one, and says so.
 */
import type { Logger as PinoLogger } from 'pino';
import { startEmulator, type RunningEmulator } from '../../emulator/server.js';
import { DEMO_CLIENT_ID, DEMO_CLIENT_SECRET } from './demo.js';

export async function startDemoEmulator(options: { port: number; logger: PinoLogger }): Promise<RunningEmulator> {
  const start = (port: number) => startEmulator({ port, host: '127.0.0.1', clientId: DEMO_CLIENT_ID, clientSecret: DEMO_CLIENT_SECRET });
  try {
    return await start(options.port);
  } catch (error) {
    if ((error as { code?: unknown }).code !== 'EADDRINUSE' || options.port === 0) throw error;
    const running = await start(0);
    options.logger.warn(
      { port: options.port, emulatorUrl: running.url },
      `port ${options.port} is in use, so the demo emulator listens at ${running.url} instead (set B24KIT_DEMO_EMULATOR_PORT to choose a port)`,
    );
    return running;
  }
}
