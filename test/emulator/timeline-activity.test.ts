import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RunningEmulator } from '../../src/emulator/server.js';
import { control, createInstalledPortal, rest, startTestEmulator, type TestPortal } from '../helpers/emulator.js';
import { startHandlerServer, type HandlerServer } from '../helpers/handler-server.js';

interface Timeline {
  comments: Array<{ id: number; entityType: string; entityId: number; comment: string; authorId: number }>;
  activities: Array<{ id: number; ownerTypeId: number; ownerId: number; deadline: string; title: string; description: string; responsibleId: number; pingOffsets: number[]; colorId: string | null }>;
}

describe('CRM timeline: comments and to-do activities', () => {
  let emu: RunningEmulator;
  let hooks: HandlerServer;
  let portal: TestPortal;
  let dealId: number;
  const timeline = () => control<Timeline>(emu, `/portals/${portal.memberId}/crm/timeline`, undefined, 'GET');

  before(async () => {
    emu = await startTestEmulator();
    hooks = await startHandlerServer();
    portal = await createInstalledPortal(emu, { timeZone: 'Europe/Berlin' });
    dealId = (await rest(portal, 'crm.deal.add', { fields: { TITLE: 'Order 1' } })).body.result as number;
  });
  after(async () => {
    await emu.close();
    await hooks.close();
  });

  // apidocs api-reference/crm/timeline/comments/crm-timeline-comment-add.html
  describe('crm.timeline.comment.add', () => {
    it('adds a comment to a deal and answers its integer id', async () => {
      await rest(portal, 'event.bind', { event: 'ONCRMTIMELINECOMMENTADD', handler: `${hooks.url}/comment` });
      const answer = await rest(portal, 'crm.timeline.comment.add', { fields: { ENTITY_ID: dealId, ENTITY_TYPE: 'deal', COMMENT: 'Called the client' } });
      assert.equal(answer.status, 200);
      assert.equal(typeof answer.body.result, 'number');
      const [comment] = (await timeline()).comments;
      assert.deepEqual(
        { id: comment?.id, entityType: comment?.entityType, entityId: comment?.entityId, comment: comment?.comment, authorId: comment?.authorId },
        { id: answer.body.result, entityType: 'deal', entityId: dealId, comment: 'Called the client', authorId: 1 },
      );
      // the event page (…/comments/events/on-Crm-Timeline-Comment-Add) shows data: {ID}
      await control(emu, `/portals/${portal.memberId}/events/flush`);
      assert.deepEqual(hooks.at('/comment')[0]?.body.data, { ID: String(answer.body.result) });
    });

    it('answers the documented error codes', async () => {
      const cases: Array<[Record<string, unknown>, string | number, number]> = [
        // "the method only accepts parameters with the key fields in lowercase"
        [{ FIELDS: { ENTITY_ID: dealId, ENTITY_TYPE: 'deal', COMMENT: 'x' } }, 100, 400],
        [{ fields: { ENTITY_TYPE: 'deal', COMMENT: 'x' } }, 100, 400],
        [{ fields: { ENTITY_ID: 999_999, ENTITY_TYPE: 'deal', COMMENT: 'x' } }, 'OWNER_NOT_FOUND', 400],
        [{ fields: { ENTITY_ID: dealId, ENTITY_TYPE: 'order', COMMENT: 'x' } }, 'OWNER_NOT_FOUND', 400],
        [{ fields: { ENTITY_ID: dealId, ENTITY_TYPE: 'deal', COMMENT: '' } }, 'INVALID_ARG_VALUE', 400],
      ];
      for (const [params, code, status] of cases) {
        const answer = await rest(portal, 'crm.timeline.comment.add', params);
        assert.deepEqual([answer.status, answer.body.error], [status, code], JSON.stringify(params));
      }
    });

    it('needs the crm scope', async () => {
      const other = await createInstalledPortal(emu, {}, { scope: ['task'] });
      const answer = await rest(other, 'crm.timeline.comment.add', { fields: { ENTITY_ID: 1, ENTITY_TYPE: 'deal', COMMENT: 'x' } });
      assert.deepEqual([answer.status, answer.body.error], [403, 'insufficient_scope']);
    });
  });

  // apidocs api-reference/crm/timeline/activities/todo/crm-activity-todo-add.html
  describe('crm.activity.todo.add', () => {
    it('adds a to-do to a deal and answers {id}; a deadline without offset is portal time', async () => {
      await rest(portal, 'event.bind', { event: 'ONCRMACTIVITYADD', handler: `${hooks.url}/activity` });
      const answer = await rest(portal, 'crm.activity.todo.add', {
        ownerTypeId: 2,
        ownerId: dealId,
        deadline: '2026-02-03T15:00:00',
        title: 'Call back',
        description: 'About the invoice',
        responsibleId: 2,
        pingOffsets: [0, 15],
        colorId: '2',
      });
      assert.equal(answer.status, 200);
      const result = answer.body.result as { id: number };
      assert.deepEqual(Object.keys(result), ['id']);
      assert.equal(typeof result.id, 'number');
      const activity = (await timeline()).activities.find((a) => a.id === result.id);
      assert.deepEqual(activity, {
        id: result.id,
        ownerTypeId: 2,
        ownerId: dealId,
        title: 'Call back',
        description: 'About the invoice',
        responsibleId: 2,
        parentActivityId: null,
        pingOffsets: [0, 15],
        colorId: '2',
        authorId: 1,
        deadline: '2026-02-03T15:00:00+01:00',
        created: (activity as { created: string } | undefined)?.created,
      });
      await control(emu, `/portals/${portal.memberId}/events/flush`);
      assert.deepEqual(hooks.at('/activity')[0]?.body.data, { FIELDS: { ID: String(result.id) } });
    });

    it('defaults the responsible user to the caller', async () => {
      const answer = await rest(portal, 'crm.activity.todo.add', { ownerTypeId: 2, ownerId: dealId, deadline: '2026-02-03T15:00:00+03:00' });
      const activity = (await timeline()).activities.find((a) => a.id === (answer.body.result as { id: number }).id);
      assert.deepEqual([activity?.responsibleId, activity?.title, activity?.deadline], [1, '', '2026-02-03T13:00:00+01:00']);
    });

    it('answers the documented error codes', async () => {
      const cases: Array<[Record<string, unknown>, string | number]> = [
        [{ ownerId: dealId, deadline: '2026-02-03T15:00:00' }, 100],
        [{ ownerTypeId: 2, ownerId: dealId }, 100],
        [{ ownerTypeId: 2, ownerId: 999_999, deadline: '2026-02-03T15:00:00' }, 'OWNER_NOT_FOUND'],
        [{ ownerTypeId: 77, ownerId: dealId, deadline: '2026-02-03T15:00:00' }, 'OWNER_NOT_FOUND'],
        [{ ownerTypeId: 2, ownerId: dealId, deadline: 'next tuesday' }, 'WRONG_DATETIME_FORMAT'],
      ];
      for (const [params, code] of cases) {
        const answer = await rest(portal, 'crm.activity.todo.add', params);
        assert.deepEqual([answer.status, answer.body.error], [400, code], JSON.stringify(params));
      }
    });
  });
});
