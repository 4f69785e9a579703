/** b24kit's client as bench/rest.ts builds it. */
import { B24Client, type B24ClientOptions } from '../../src/rest/client.js';
import type { Installed, Model } from './common.js';

export const silentLogger = { warn: () => {}, debug: () => {} };

/** b24kit's client over the install's token, told the portal's limits (as `applyPlanFromAppInfo` would be, scaled). */
export function b24kitClient(installed: Installed, model: Model, options: Omit<B24ClientOptions, 'provider'> = {}): B24Client {
  return B24Client.fromToken(
    { accessToken: installed.access_token, clientEndpoint: installed.client_endpoint, memberId: installed.member_id },
    {
      logger: silentLogger,
      limits: { drainPerSecond: model.drainPerSecond, burst: model.burst },
      operating: { limitSeconds: model.operatingLimitSeconds },
      ...options,
    },
  );
}
