import type { Emulator } from '../emulator.js';
import type { Portal } from '../portal.js';
import type { CommandWork } from '../limits/cost-model.js';

/** Who is calling: an OAuth app token or an incoming webhook (docs/protocol.md §4.1). */
export interface AuthContext {
  kind: 'oauth' | 'webhook';
  userId: number;
  scope: string[];
  /** The access token, for OAuth calls. */
  accessToken?: string;
}

/** Request parameters after JSON, form or query decoding (PHP bracket syntax). */
export type Params = Record<string, unknown>;

export interface MethodContext {
  emulator: Emulator;
  portal: Portal;
  auth: AuthContext;
  params: Params;
  /** Lower-case method name. */
  method: string;
  /** What the command did, for the cost model: handlers mark writes, rows and COUNT queries. */
  work: CommandWork;
  nowMs: number;
  /** The top-level `auth_connector` param, if any (docs/protocol.md §3.6). */
  authConnector: string;
}

export interface MethodResult {
  result: unknown;
  total?: number;
  next?: number;
}

export interface MethodDefinition {
  /**
   * Scope the app needs (docs/protocol.md §4.4: missing scope → insufficient_scope). A list means any one
   * of them, as `user.get` and `user.current` accept `user`, `user_basic` or `user_brief`
   * (b24restdocs api-reference/user/user-get.md, user-current.md). `basic` is always granted.
   */
  scope: string | readonly string[];
  /** Only for OAuth apps: webhooks get WRONG_AUTH_TYPE (docs/protocol.md §2.1). */
  appContextOnly?: boolean;
  /** Only for portal administrators: others get ACCESS_DENIED. */
  adminOnly?: boolean;
  handler(ctx: MethodContext): MethodResult | Promise<MethodResult>;
}

/** Whether a caller holding `granted` may call a method that needs `needed` (one of, for a list). */
export function scopeGranted(needed: MethodDefinition['scope'], granted: readonly string[]): boolean {
  const anyOf = typeof needed === 'string' ? [needed] : needed;
  return anyOf.some((scope) => scope === 'basic' || granted.includes(scope));
}

/** Methods by lower-case name. Method names are case-insensitive on the portal. */
export class MethodRegistry {
  readonly #methods = new Map<string, MethodDefinition>();

  define(name: string, definition: MethodDefinition): void {
    const key = name.toLowerCase();
    if (this.#methods.has(key)) throw new Error(`emulator method defined twice: ${name}`);
    this.#methods.set(key, definition);
  }

  get(name: string): MethodDefinition | undefined {
    return this.#methods.get(name.toLowerCase());
  }

  names(): string[] {
    return [...this.#methods.keys()];
  }

  /** Every scope some method needs, sorted: what `scope` with `full=true` answers. */
  scopes(): string[] {
    const all = new Set<string>();
    for (const { scope } of this.#methods.values()) for (const one of typeof scope === 'string' ? [scope] : scope) all.add(one);
    return [...all].sort();
  }
}
