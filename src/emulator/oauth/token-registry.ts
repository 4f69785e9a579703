import { randomBytes } from 'node:crypto';
import type { EmulatorClock } from '../clock.js';

/** An access token as the OAuth server knows it (docs/protocol.md §1.4, §1.5). */
export interface AccessTokenRecord {
  token: string;
  memberId: string;
  userId: number;
  scope: string[];
  expiresAtMs: number;
  revoked: boolean;
}

interface RefreshTokenRecord {
  token: string;
  memberId: string;
  userId: number;
  scope: string[];
  /** The access token issued together with this refresh token: it dies when this one is used. */
  accessToken: string;
  expiresAtMs: number;
  used: boolean;
}

interface CodeRecord {
  memberId: string;
  userId: number;
  scope: string[];
  expiresAtMs: number;
  used: boolean;
}

export interface IssuedTokens {
  accessToken: string;
  refreshToken: string;
  /** Unix seconds. */
  expires: number;
  expiresIn: number;
  memberId: string;
  userId: number;
  scope: string[];
}

/** A refresh: the new pair, or a refusal (with the portal when the token was one it issued). */
export type RefreshOutcome = { ok: true; tokens: IssuedTokens } | { ok: false; memberId?: string };

export type TokenCheck =
  | { ok: true; record: AccessTokenRecord }
  | { ok: false; reason: 'unknown' | 'expired' | 'revoked' };

/** Issues, checks, rotates and revokes tokens and authorization codes for every portal. */
export class TokenRegistry {
  readonly #access = new Map<string, AccessTokenRecord>();
  readonly #refresh = new Map<string, RefreshTokenRecord>();
  readonly #codes = new Map<string, CodeRecord>();

  constructor(
    private readonly clock: EmulatorClock,
    private readonly ttl: () => { accessSeconds: number; refreshSeconds: number; codeSeconds: number },
  ) {}

  issue(memberId: string, userId: number, scope: string[]): IssuedTokens {
    const now = this.clock.nowMs();
    const { accessSeconds, refreshSeconds } = this.ttl();
    const accessToken = newSecret();
    const refreshToken = newSecret();
    this.#access.set(accessToken, {
      token: accessToken,
      memberId,
      userId,
      scope,
      expiresAtMs: now + accessSeconds * 1000,
      revoked: false,
    });
    this.#refresh.set(refreshToken, {
      token: refreshToken,
      memberId,
      userId,
      scope,
      accessToken,
      expiresAtMs: now + refreshSeconds * 1000,
      used: false,
    });
    return {
      accessToken,
      refreshToken,
      expires: Math.floor((now + accessSeconds * 1000) / 1000),
      expiresIn: accessSeconds,
      memberId,
      userId,
      scope,
    };
  }

  check(accessToken: string): TokenCheck {
    const record = this.#access.get(accessToken);
    if (!record) return { ok: false, reason: 'unknown' };
    if (record.revoked) return { ok: false, reason: 'revoked' };
    if (record.expiresAtMs <= this.clock.nowMs()) return { ok: false, reason: 'expired' };
    return { ok: true, record };
  }

  /**
   * Rotates a refresh token. Refresh tokens are single-use: the used one and the access token
   * issued with it become invalid (docs/protocol.md §1.5); a second use answers invalid_grant. A refused
   * token this registry issued names its portal, so the refusal can count in that portal's stats.
   */
  refresh(refreshToken: string): RefreshOutcome {
    const record = this.#refresh.get(refreshToken);
    if (!record) return { ok: false };
    if (record.used || record.expiresAtMs <= this.clock.nowMs()) return { ok: false, memberId: record.memberId };
    record.used = true;
    const oldAccess = this.#access.get(record.accessToken);
    if (oldAccess) oldAccess.revoked = true;
    return { ok: true, tokens: this.issue(record.memberId, record.userId, record.scope) };
  }

  createCode(memberId: string, userId: number, scope: string[]): string {
    const code = newSecret();
    this.#codes.set(code, {
      memberId,
      userId,
      scope,
      expiresAtMs: this.clock.nowMs() + this.ttl().codeSeconds * 1000,
      used: false,
    });
    return code;
  }

  /** A code works once and lives `codeTtlSeconds` (docs/protocol.md §1.2). */
  redeemCode(code: string): IssuedTokens | undefined {
    const record = this.#codes.get(code);
    if (!record || record.used || record.expiresAtMs <= this.clock.nowMs()) return undefined;
    record.used = true;
    return this.issue(record.memberId, record.userId, record.scope);
  }

  /** Revokes every token of a portal (uninstall: API access is revoked, docs/protocol.md §2.5). */
  revokePortal(memberId: string): void {
    for (const record of this.#access.values()) if (record.memberId === memberId) record.revoked = true;
    for (const record of this.#refresh.values()) if (record.memberId === memberId) record.used = true;
    for (const record of this.#codes.values()) if (record.memberId === memberId) record.used = true;
  }
}

function newSecret(): string {
  return randomBytes(24).toString('hex');
}
