/**
 * The registry read /oauth/start needs and PortalRegistry (store/portals.ts) does not offer: a
 * portal by its domain.
 * Plain SQL over the Store interface; no secrets are read.
 */
import type { Store } from '../store/types.js';

export interface PortalAddress {
  memberId: string;
  domain: string;
  clientEndpoint: string;
  state: string;
}

/**
 * The portal at `domain` (case-insensitive), if one is stored. Domains can change (a rename,
 * docs/protocol.md §4.5) and in theory repeat across uninstalled rows: an active portal wins, then the
 * most recently updated.
 */
export async function findPortalByDomain(store: Store, domain: string): Promise<PortalAddress | undefined> {
  const row = await store.one<{ member_id: string; domain: string; client_endpoint: string; state: string }>(
    `SELECT member_id, domain, client_endpoint, state FROM portals WHERE LOWER(domain) = ?
     ORDER BY CASE WHEN state = 'active' THEN 0 ELSE 1 END, updated_at_ms DESC LIMIT 1`,
    [domain.toLowerCase()],
  );
  return row ? { memberId: row.member_id, domain: row.domain, clientEndpoint: row.client_endpoint, state: row.state } : undefined;
}
