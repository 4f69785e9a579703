/**
 * `POST /robots/:memberId/:code`: a robot call from a portal's workflow (docs/protocol.md §7.2) → the
 * app's robot receiver (app/robot-receiver.ts) → 200 `{"status":"queued"|"duplicate"|"ignored"}`
 * after the commit. Errors as for events: 400, 401/403, 404, 410, 503 B24_ERR_STORE (the store down
 * or busy); nothing stored.
 */
import type { FastifyInstance } from 'fastify';
import { B24Error } from '../../errors.js';
import { isMemberId } from '../../validators.js';

export interface RobotSink {
  accept(urlMemberId: string, code: string, body: unknown): Promise<{ status: 'queued' | 'duplicate' | 'ignored' }>;
}

export function registerRobotRoutes(app: FastifyInstance, robots: RobotSink): void {
  app.post<{ Params: { memberId: string; code: string } }>('/robots/:memberId/:code', async (request) => {
    const { memberId, code } = request.params;
    if (!isMemberId(memberId)) throw new B24Error('B24_ERR_BAD_REQUEST', 'The member_id in the URL is malformed');
    const received = await robots.accept(memberId, code, request.body);
    request.log.info({ memberId, robot: code, status: received.status }, 'robot call accepted');
    return { status: received.status };
  });
}
