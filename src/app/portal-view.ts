/** A portal as handlers see it: the registry's info without tokens or refresh bookkeeping. */
import type { PortalInfo } from '../store/portals.js';
import type { PortalView } from './types.js';

export function portalView(portal: PortalInfo): PortalView {
  return {
    memberId: portal.memberId,
    domain: portal.domain,
    clientEndpoint: portal.clientEndpoint,
    scope: portal.scope,
    status: portal.status,
    state: portal.state,
  };
}
