import type { FastifyInstance } from 'fastify';
import type { Emulator } from '../emulator.js';
import { isoInZone } from '../crm/dates.js';
import { portalParam } from './validation.js';

/** The CRM timeline of a portal as tests read it back: comments and to-do activities, oldest first. */
export function registerTimelineControlRoutes(app: FastifyInstance, emulator: Emulator): void {
  app.get('/_emulator/portals/:memberId/crm/timeline', async (request, reply) => {
    const portal = portalParam(emulator, request.params, reply);
    if (!portal) return reply;
    const zone = portal.timeZone;
    return {
      comments: [...portal.timeline.comments.values()].map(({ createdAtMs, ...comment }) => ({ ...comment, created: isoInZone(createdAtMs, zone) })),
      activities: [...portal.timeline.activities.values()].map(({ createdAtMs, deadlineMs, ...activity }) => ({
        ...activity,
        deadline: isoInZone(deadlineMs, zone),
        created: isoInZone(createdAtMs, zone),
      })),
    };
  });
}
