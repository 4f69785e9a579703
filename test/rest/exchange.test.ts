/**
 * The exchange loop on its own (src/rest/exchange.ts, no B24Client around it): runExchange over a
 * context of parts, against the emulator. What the portal counted is the evidence of how often a
 * request was sent; each case is one row of docs/rest.md, "Error classes".
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { B24Error } from '../../src/errors.js';
import { runExchange, type Exchange, type ExchangeContext } from '../../src/rest/exchange.js';
import type { B24ClientEvent } from '../../src/rest/hooks.js';
import { RateLimiter } from '../../src/rest/limiter.js';
import { OperatingTracker, DEFAULT_OPERATING_LIMITS } from '../../src/rest/operating.js';
import { StaticTokenProvider } from '../../src/rest/providers.js';
import { methodSafety } from '../../src/rest/retry.js';
import { defaultDispatcher } from '../../src/rest/transport.js';
import { createInstalledPortal, startTestEmulator, type TestPortal } from '../helpers/emulator.js';
import { emulatorClock, setFaults, silentLogger, stats } from './helpers.js';

const ATTEMPTS = 3;

describe('the exchange loop on its own', () => {
  let emu: RunningEmulator;
  const dispatcher = defaultDispatcher();
  before(async () => {
    emu = await startTestEmulator();
  });
  after(async () => {
    await dispatcher.close();
    await emu.close();
  });

  const contextFor = (portal: TestPortal, events: B24ClientEvent[]): ExchangeContext => {
    const clock = emulatorClock(emu);
    return {
      provider: new StaticTokenProvider({ accessToken: portal.accessToken, clientEndpoint: portal.clientEndpoint, memberId: portal.memberId }),
      limiter: new RateLimiter({ now: () => clock.now(), defaultLimits: { drainPerSecond: 100_000, burst: 100_000 } }),
      operating: new OperatingTracker({ ...DEFAULT_OPERATING_LIMITS }),
      clock,
      dispatcher,
      userAgent: 'b24kit-test',
      retry: { maxAttempts: ATTEMPTS, baseMs: 10, capMs: 50 },
      timeoutMs: 5000,
      deadlineMs: 60_000,
      logger: silentLogger,
      emit: (event) => void events.push(event),
      applyLimits: () => {},
      readLicense: async () => undefined,
    };
  };
  const call = (method: string, params: Record<string, unknown>, safety = methodSafety(method)): Exchange => ({ method, params, safety, charged: new Map([[method, 1]]) });
  const rejectsWith = async (promise: Promise<unknown>, code: string): Promise<B24Error> => {
    const error = await promise.then(
      () => assert.fail('resolved'),
      (failure: unknown) => failure,
    );
    assert.ok(error instanceof B24Error, String(error));
    assert.equal(error.code, code, error.message);
    return error;
  };

  it('a permanent answer (unknown currency) is sent once and thrown with the portal’s message', async () => {
    const portal = await createInstalledPortal(emu);
    const events: B24ClientEvent[] = [];
    const error = await rejectsWith(runExchange(contextFor(portal, events), call('crm.deal.add', { fields: { TITLE: 'x', CURRENCY_ID: 'euro' } }), {}), 'B24_ERR_REST');
    assert.equal(error.bitrixDescription, 'Invalid value for the "Currency" field');
    assert.equal(error.status, 400);
    assert.equal((await stats(emu, portal)).byStatus['400'], 1, 'sent once');
    assert.equal(events.filter((event) => event.type === 'retry').length, 0);
  });

  it('an HTML 503 page for a read is retried until the attempts run out', async () => {
    const portal = await createInstalledPortal(emu);
    await setFaults(emu, portal, { downForSeconds: 3600 });
    const events: B24ClientEvent[] = [];
    await rejectsWith(runExchange(contextFor(portal, events), call('user.current', {}), {}), 'B24_ERR_BAD_RESPONSE');
    assert.equal((await stats(emu, portal)).byStatus['503'], ATTEMPTS);
    assert.equal(events.filter((event) => event.type === 'retry').length, ATTEMPTS - 1);
  });

  it('a 500 envelope for an add is not sent again; the same add declared idempotent is', async () => {
    const portal = await createInstalledPortal(emu);
    await setFaults(emu, portal, { errorRate: 1, errorStatus: 500 });
    const context = contextFor(portal, []);
    await rejectsWith(runExchange(context, call('crm.deal.add', { fields: { TITLE: 'x' } }), {}), 'B24_ERR_SERVER');
    assert.equal((await stats(emu, portal)).byStatus['500'], 1);
    await rejectsWith(runExchange(context, call('crm.deal.add', { fields: { TITLE: 'x' } }, 'idempotent'), {}), 'B24_ERR_SERVER');
    assert.equal((await stats(emu, portal)).byStatus['500'], 1 + ATTEMPTS);
  });
});
