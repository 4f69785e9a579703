/** The official @bitrix24/b24jssdk as bench/rest.ts builds it. */
import { B24OAuth, EnumAppStatus, Logger, ParamsFactory, type B24OAuthParams } from '@bitrix24/b24jssdk';
import { BENCH_CLIENT_ID, BENCH_CLIENT_SECRET, type Installed, type Model } from './common.js';

/**
 * The official SDK as an app builds it from the install's auth block (test/emulator/b24jssdk.test.ts),
 * with its own limiter on: its default restriction parameters (ParamsFactory.getDefault(), what
 * `fromTariffPlan` picks for non-Enterprise plans) with the bucket and operating budget set to
 * this portal's — what its docs do for Enterprise (`setRestrictionManagerParams`).
 */
export function sdkClient(installed: Installed, model: Model): B24OAuth {
  const params: B24OAuthParams = {
    applicationToken: installed.application_token,
    userId: installed.user_id,
    memberId: installed.member_id,
    accessToken: installed.access_token,
    refreshToken: installed.refresh_token,
    expires: installed.expires,
    expiresIn: installed.expires_in,
    scope: installed.scope,
    domain: installed.domain,
    clientEndpoint: installed.client_endpoint,
    serverEndpoint: installed.server_endpoint,
    status: EnumAppStatus.Local,
  };
  const defaults = ParamsFactory.getDefault();
  const restrictionParams = {
    ...defaults,
    rateLimit: { burstLimit: model.burst, drainRate: model.drainPerSecond, adaptiveEnabled: defaults.rateLimit?.adaptiveEnabled ?? true },
    operatingLimit: { windowMs: model.operatingWindowSeconds * 1000, limitMs: model.operatingLimitSeconds * 1000, heavyPercent: defaults.operatingLimit?.heavyPercent ?? 80 },
  };
  const b24 = new B24OAuth(params, { clientId: BENCH_CLIENT_ID, clientSecret: BENCH_CLIENT_SECRET }, { restrictionParams });
  // a logger without handlers: silences the SDK (the deprecated v2 helpers warn on the NullLogger)
  b24.setLogger(Logger.create('b24jssdk-bench'));
  return b24;
}
