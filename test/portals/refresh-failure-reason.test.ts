/**
 * Why a refresh failed, as the metrics label it (src/oauth/refresh-failure.ts): each reason from a
 * real answer of the token endpoint — the emulator's OAuth server, a server that answers HTML, a
 * port nobody listens on — through the real token client.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { refreshFailureReason } from '../../src/oauth/refresh-failure.js';
import { createTokenClient } from '../../src/oauth/token-client.js';
import { createInstalledPortal, startTestEmulator } from '../helpers/emulator.js';

describe('refresh failure reasons come from what the token endpoint answered', () => {
  let emu: RunningEmulator;
  let html: Server;
  let htmlUrl: string;
  before(async () => {
    emu = await startTestEmulator();
    html = createServer((_req, res) => void res.writeHead(502, { 'content-type': 'text/html' }).end('<html>Bad Gateway</html>'));
    await new Promise<void>((resolve) => html.listen(0, '127.0.0.1', resolve));
    htmlUrl = `http://127.0.0.1:${(html.address() as AddressInfo).port}`;
  });
  after(async () => {
    await emu?.close();
    await new Promise((resolve) => html?.close(resolve));
  });

  const reasonOf = async (client: ReturnType<typeof createTokenClient>, refreshToken: string): Promise<string> => {
    const error = await client.refresh({ refreshToken }).then(
      () => undefined,
      (failure: unknown) => failure,
    );
    assert.ok(error !== undefined, 'the refresh must fail');
    return refreshFailureReason(error);
  };
  const client = (options: { oauthUrl: string; clientSecret?: string }) =>
    createTokenClient({ clientId: emu.emulator.options.clientId, clientSecret: options.clientSecret ?? emu.emulator.options.clientSecret, oauthUrl: options.oauthUrl, timeoutMs: 5000 });

  it('a used refresh token → invalid_grant', async () => {
    const portal = await createInstalledPortal(emu);
    const ok = client({ oauthUrl: emu.url });
    await ok.refresh({ refreshToken: portal.refreshToken }); // spends it
    assert.equal(await reasonOf(ok, portal.refreshToken), 'invalid_grant');
  });

  it('a wrong client_secret → invalid_client', async () => {
    const portal = await createInstalledPortal(emu);
    assert.equal(await reasonOf(client({ oauthUrl: emu.url, clientSecret: 'not-the-secret' }), portal.refreshToken), 'invalid_client');
  });

  it('an HTML answer → bad_answer; no answer → unreachable', async () => {
    assert.equal(await reasonOf(client({ oauthUrl: htmlUrl }), 'any'), 'bad_answer');
    // port 9 (discard) on loopback: nothing listens, the connection is refused
    assert.equal(await reasonOf(client({ oauthUrl: 'http://127.0.0.1:9' }), 'any'), 'unreachable');
  });
});
