/**
 * The emulator in its own process for bench/rest.ts: the portal runs on one core, the client
 * under test on the other, as a real portal would be elsewhere. Sends `{url}` over IPC once it
 * listens; exits when the parent disconnects.
 */
import { startEmulator } from '../../src/emulator/server.js';
import { BENCH_CLIENT_ID, BENCH_CLIENT_SECRET } from './common.js';

const emu = await startEmulator({ port: 0, host: '127.0.0.1', clientId: BENCH_CLIENT_ID, clientSecret: BENCH_CLIENT_SECRET });
process.send?.({ url: emu.url });
process.on('disconnect', () => {
  void emu.close().finally(() => process.exit(0));
});
