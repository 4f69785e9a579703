/**
 * docs/plugins.md's first example is examples/form-leads-plugin.ts (which `npm run typecheck`
 * compiles): the doc shows that file, and the plugin does what the doc says — a signed form POST
 * makes one lead, however often it is sent, changed or not; an unsigned one is refused.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { codeLines as body } from '../helpers/snippet.js';
import { formLeads } from '../../examples/form-leads-plugin.js';
import type { EmulatorInstall } from '../portals/helpers.js';
import { startTestApp, waitFor, type TestApp } from '../app/helpers.js';


describe('docs/plugins.md: the form-leads example', () => {
  it('the doc shows the example that typecheck compiles', () => {
    const doc = readFileSync(new URL('../../docs/plugins.md', import.meta.url), 'utf8');
    const snippet = /```ts\n(\/\/ app\.ts — a web form[\s\S]*?)```/.exec(doc)?.[1];
    assert.ok(snippet, 'docs/plugins.md has the example');
    const example = readFileSync(new URL('../../examples/form-leads-plugin.ts', import.meta.url), 'utf8');
    assert.deepEqual(body(snippet), body(example));
  });

  describe('run against the emulator', () => {
    let t: TestApp;
    let portal: EmulatorInstall;
    const secret = randomBytes(24).toString('base64url');

    before(async () => {
      t = await startTestApp((app) => void app.register(formLeads, { titlePrefix: 'Web form:' }));
      portal = await t.install();
      await t.app.settings(portal.memberId, 'form-leads').set({ formSecret: secret });
    });
    after(() => t?.close());

    it('a signed submission makes one lead: resent → duplicate, changed → revised, and still one lead', async () => {
      const text = JSON.stringify({ id: 'sub-1', name: 'Grace Hopper', email: 'grace@example.test' });
      const send = (signature: string): Promise<Response> =>
        fetch(`${t.url}/api/v1/${portal.memberId}/leads`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-form-signature': signature }, body: text });
      const signature = `sha256=${createHmac('sha256', secret).update(text).digest('hex')}`;
      const unsigned = await send('');
      assert.equal(unsigned.status, 401);
      const answers = [await send(signature), await send(signature)];
      const json = await Promise.all(answers.map((answer) => answer.json() as Promise<{ jobId: number; outcome: string }>));
      assert.deepEqual(answers.map((answer) => answer.status), [202, 202]);
      assert.deepEqual(json.map((entry) => entry.outcome), ['created', 'duplicate']);
      assert.equal(json[0]!.jobId, json[1]!.jobId);
      const leads = await waitFor(async () => {
        const { result } = await t.app.client(portal.memberId).call<Array<Record<string, string>>>('crm.lead.list', { filter: { ORIGIN_ID: 'sub-1' }, select: ['TITLE', 'SOURCE_ID', 'ORIGINATOR_ID'] });
        return result.length > 0 ? result : undefined;
      }, 10_000, 'the lead');
      assert.deepEqual(leads.map((lead) => [lead.TITLE, lead.SOURCE_ID, lead.ORIGINATOR_ID]), [['Web form: Grace Hopper', 'WEB', 'web-form']]);

      // the same submission, changed: a new job (`revised`), which finds the lead by ORIGIN_ID
      const changed = JSON.stringify({ id: 'sub-1', name: 'Grace B. Hopper', email: 'grace@example.test' });
      const revised = await fetch(`${t.url}/api/v1/${portal.memberId}/leads`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-form-signature': `sha256=${createHmac('sha256', secret).update(changed).digest('hex')}` },
        body: changed,
      });
      const answer = (await revised.json()) as { jobId: number; outcome: string };
      assert.equal(answer.outcome, 'revised');
      const result = await waitFor(async () => {
        const row = await t.store.one<{ state: string; result: string | null }>('SELECT state, result FROM b24kit_jobs WHERE id = ?', [answer.jobId]);
        return row?.state === 'succeeded' ? row.result : undefined;
      }, 10_000, 'the revised job');
      const { result: all } = await t.app.client(portal.memberId).call<Array<{ ID: string }>>('crm.lead.list', { filter: { ORIGIN_ID: 'sub-1' }, select: ['ID'] });
      assert.equal(all.length, 1, 'still one lead');
      assert.deepEqual(JSON.parse(result ?? 'null'), { leadId: Number(all[0]!.ID) });
    });
  });
});
