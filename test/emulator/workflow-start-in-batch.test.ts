import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { control, createInstalledPortal, rest, startTestEmulator, type TestPortal } from '../helpers/emulator.js';

/**
 * Several bizproc.workflow.start commands in one batch each start a workflow: a batch's later
 * commands run at fractional milliseconds on the emulator's time line, and the workflow id (a PHP
 * uniqid shape) is made from that time.
 */
describe('bizproc.workflow.start in a batch', () => {
  let emu: RunningEmulator;
  let portal: TestPortal;
  before(async () => {
    emu = await startTestEmulator();
    portal = await createInstalledPortal(emu);
  });
  after(() => emu.close());

  it('starts one workflow per command', async () => {
    const cmd: Record<string, string> = {};
    for (let i = 0; i < 5; i += 1) {
      const deal = await rest(portal, 'crm.deal.add', { fields: { TITLE: `d${i}` } });
      cmd[`w${i}`] = `bizproc.workflow.start?TEMPLATE_ID=1&DOCUMENT_ID[0]=crm&DOCUMENT_ID[1]=CCrmDocumentDeal&DOCUMENT_ID[2]=DEAL_${deal.body.result as number}`;
    }
    const answer = await rest(portal, 'batch', { halt: 0, cmd });
    const result = answer.body.result as { result: Record<string, string>; result_error: unknown };
    assert.deepEqual(result.result_error, []);
    assert.equal(Object.keys(result.result).length, 5);
    const started = await control<unknown[]>(emu, `/portals/${portal.memberId}/workflows`, undefined, 'GET');
    assert.equal(started.length, 5);
  });
});
