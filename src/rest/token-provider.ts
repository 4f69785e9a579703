/**
 * Where the REST client gets its credentials. The store-backed provider (src/oauth/) refreshes
 * tokens single-flight across processes; the static ones here serve a token or a webhook.
 */
export interface AccessGrant {
  /** Undefined for incoming webhooks, whose URL is the credential. */
  accessToken: string | undefined;
  /** `{client_endpoint}`, e.g. `https://acme.bitrix24.com/rest/` (ends with a slash). */
  clientEndpoint: string;
  /** The portal's member_id, when known: the key of its rate-limit state. */
  memberId: string | undefined;
}

export interface TokenProvider {
  /** A grant with an access token that is valid now (refreshed ahead of expiry when possible). */
  getGrant(): Promise<AccessGrant>;
  /**
   * The portal answered expired_token / invalid_token for `rejectedAccessToken`. Refresh once —
   * unless another caller already did, in which case return the newer grant. Refresh tokens are
   * single-use: a second refresh with the same one would lock the portal out.
   */
  refreshAfterRejection(rejectedAccessToken: string | undefined): Promise<AccessGrant>;
  /** The portal moved (302 to a new address): remember the new client endpoint. */
  updateClientEndpoint?(clientEndpoint: string): Promise<void>;
}
