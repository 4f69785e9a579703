import type { MethodContext } from '../methods/registry.js';
import type { CrmEntity } from './fields.js';

/**
 * Fires ONCRM{ENTITY}{ADD|UPDATE|DELETE}. The payload is only `{FIELDS: {ID}}`: handlers fetch the
 * row themselves (docs/protocol.md §3.3, §3.7).
 */
export function emitCrmEvent(ctx: MethodContext, entity: CrmEntity, action: 'ADD' | 'UPDATE' | 'DELETE', id: number): void {
  ctx.portal.events.emit(`ONCRM${entity.toUpperCase()}${action}`, { FIELDS: { ID: String(id) } }, {
    userId: ctx.auth.userId,
    // only the app's own OAuth calls carry a connector ('' = none); webhook changes are not the app's
    ...(ctx.auth.kind === 'oauth' ? { authConnector: ctx.authConnector } : {}),
  });
}
