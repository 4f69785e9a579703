import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RunningEmulator } from '../../src/emulator/server.js';
import type { B24Client } from '../../src/rest/client.js';
import { reconcileBindings } from '../../src/events/bindings.js';
import {
  drainOfflineEvents,
  offlineEventDedupeKey,
  OfflineDrainAbort,
  OfflineDrainInterruptedError,
  type OfflineEventContext,
  type OfflineEventRecord,
} from '../../src/events/offline-drain.js';
import { B24Error } from '../../src/errors.js';
import { control, createInstalledPortal, startTestEmulator, UNLIMITED_PORTAL, type TestPortal } from '../helpers/emulator.js';
import { appClient } from '../helpers/app-client.js';

interface QueueRow {
  ID: string;
  EVENT_NAME: string;
  EVENT_DATA: { FIELDS: { ID: string } };
  PROCESS_ID: string;
  ERROR: string | number;
}

const dealOf = (event: OfflineEventRecord): string => (event.data as { FIELDS: { ID: string } }).FIELDS.ID;

describe('drainOfflineEvents against the emulator', () => {
  let emu: RunningEmulator;
  let portal: TestPortal;
  let client: B24Client;

  const fire = (dealId: string, event = 'ONCRMDEALUPDATE') => control(emu, `/portals/${portal.memberId}/events`, { event, data: { FIELDS: { ID: dealId } } });
  const queue = () => control<QueueRow[]>(emu, `/portals/${portal.memberId}/events/offline`, undefined, 'GET');

  before(async () => {
    emu = await startTestEmulator();
  });
  after(() => emu.close());
  beforeEach(async () => {
    portal = await createInstalledPortal(emu, UNLIMITED_PORTAL);
    client = appClient(portal);
    await reconcileBindings({ client, appUrl: 'http://127.0.0.1:9', memberId: portal.memberId, events: [], offlineEvents: ['ONCRMDEALUPDATE', 'ONCRMDEALADD'] });
  });
  afterEach(() => client.close());

  it('processes in ID order, keeps the latest state per object, clears successes and marks the failure errored', async () => {
    await fire('1', 'ONCRMDEALADD');
    await fire('1');
    await fire('2');
    await fire('3');
    await fire('2'); // deal 2 again: the same record, updated (latest state only)
    await fire('2');
    await fire('4');
    const seen: OfflineEventRecord[] = [];

    const report = await drainOfflineEvents({
      client,
      limit: 3,
      processEvent: async (event) => {
        seen.push(event);
        if (dealOf(event) === '3') throw new Error('the CRM sync refused deal 3');
      },
    });

    assert.deepEqual(
      seen.map((e) => `${e.event}:${dealOf(e)}`),
      ['ONCRMDEALADD:1', 'ONCRMDEALUPDATE:1', 'ONCRMDEALUPDATE:2', 'ONCRMDEALUPDATE:3', 'ONCRMDEALUPDATE:4'],
    );
    const ids = seen.map((e) => e.id);
    assert.deepEqual(ids, [...ids].sort((a, b) => a - b));
    assert.deepEqual(report, { batches: 2, reserved: 5, processed: 4, cleared: 4, failed: 1, recovered: 0, drained: true });
    const left = await queue();
    assert.equal(left.length, 1);
    assert.equal(left[0]?.EVENT_DATA.FIELDS.ID, '3');
    assert.equal(Number(left[0]?.ERROR), 1);
    assert.equal(left[0]?.PROCESS_ID, '', 'errored records are free again, read with error=1');

    const second = await drainOfflineEvents({ client, processEvent: async () => assert.fail('nothing new to process') });
    assert.equal(second.reserved, 0);
    assert.equal(second.drained, true);
  });

  it('an interrupted drain leaves the rest reserved; a later drain with the process_id finishes it', async () => {
    for (const id of ['1', '2', '3', '4']) await fire(id);
    let interrupted: OfflineDrainInterruptedError | undefined;
    await assert.rejects(
      drainOfflineEvents({
        client,
        recoverReservations: false,
        processEvent: async (event) => {
          if (dealOf(event) === '3') throw new B24Error('B24_ERR_STORE', 'the inbox database went away');
        },
      }),
      (error: unknown) => {
        assert.ok(error instanceof OfflineDrainInterruptedError);
        assert.equal(error.code, 'B24_ERR_OFFLINE_DRAIN_INTERRUPTED');
        assert.equal(error.report.cleared, 2);
        assert.equal(error.report.failed, 0, 'a fatal error does not mark the record errored');
        interrupted = error;
        return true;
      },
    );
    const reserved = await queue();
    assert.deepEqual(reserved.map((row) => row.EVENT_DATA.FIELDS.ID), ['3', '4']);
    assert.ok(reserved.every((row) => row.PROCESS_ID === interrupted!.processId && Number(row.ERROR) === 0));

    // a new change meanwhile goes to a new record, outside the reservation
    await fire('5');
    // a plain drain without recovery cannot see the reserved records
    const blind: string[] = [];
    await drainOfflineEvents({ client, recoverReservations: false, processEvent: async (event) => void blind.push(dealOf(event)) });
    assert.deepEqual(blind, ['5']);

    const resumed: Array<[string, OfflineEventContext]> = [];
    const report = await drainOfflineEvents({
      client,
      recoverReservations: false,
      processIds: [interrupted!.processId],
      processEvent: async (event, context) => void resumed.push([dealOf(event), context]),
    });
    assert.deepEqual(resumed.map(([deal]) => deal), ['3', '4']);
    assert.ok(resumed.every(([, context]) => context.recovered && context.processId === interrupted!.processId));
    assert.equal(report.recovered, 2);
    assert.deepEqual(await queue(), []);
  });

  it('recovers a reservation left by a drain that died without telling anyone', async () => {
    for (const id of ['1', '2', '3']) await fire(id);
    const firstSeen: OfflineEventRecord[] = [];
    await assert.rejects(
      drainOfflineEvents({
        client,
        processEvent: async (event) => {
          firstSeen.push(event);
          throw new OfflineDrainAbort('process killed');
        },
      }),
      OfflineDrainInterruptedError,
    );
    assert.equal((await queue()).length, 3);

    const again: OfflineEventRecord[] = [];
    const report = await drainOfflineEvents({ client, processEvent: async (event) => void again.push(event) });
    assert.deepEqual(again.map(dealOf), ['1', '2', '3']);
    assert.equal(report.recovered, 3);
    // the same record state yields the same dedupe key on the re-read: the inbox drops the repeat
    assert.equal(offlineEventDedupeKey(portal.memberId, again[0]!), offlineEventDedupeKey(portal.memberId, firstSeen[0]!));
    assert.deepEqual(await queue(), []);
  });

  it('reads the queue of its auth_connector only', async () => {
    await reconcileBindings({
      client,
      appUrl: 'http://127.0.0.1:9',
      memberId: portal.memberId,
      events: [],
      offlineEvents: ['ONCRMCONTACTADD'],
      authConnector: 'sync',
    });
    await fire('10', 'ONCRMCONTACTADD');
    await fire('11'); // queued for the connector-less binding
    const viaConnector: string[] = [];
    await drainOfflineEvents({ client, authConnector: 'sync', processEvent: async (event) => void viaConnector.push(`${event.event}:${dealOf(event)}`) });
    assert.deepEqual(viaConnector, ['ONCRMCONTACTADD:10']);
    const plain: string[] = [];
    await drainOfflineEvents({ client, processEvent: async (event) => void plain.push(`${event.event}:${dealOf(event)}`) });
    assert.deepEqual(plain, ['ONCRMDEALUPDATE:11']);
  });

  it('stops after maxBatches and says the queue is not drained', async () => {
    for (const id of ['1', '2', '3', '4', '5']) await fire(id);
    const report = await drainOfflineEvents({ client, limit: 2, maxBatches: 2, processEvent: async () => {} });
    assert.equal(report.processed, 4);
    assert.equal(report.drained, false);
    assert.equal((await queue()).length, 1);
  });
});
