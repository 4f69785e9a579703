import type { Emulator } from '../emulator.js';
import type { Portal } from '../portal.js';
import type { CommandWork } from '../limits/cost-model.js';

/** Who is calling: an OAuth app token or an incoming webhook (protocol §4.1). */
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
  /** The top-level `auth_connector` param, if any (protocol §3.6). */
  authConnector: string;
}

export interface MethodResult {
  result: unknown;
  total?: number;
  next?: number;
}

export interface MethodDefinition {
  /** Scope the app needs (protocol §4.4: missing scope → insufficient_scope). */
  scope: string;
  /** Only for OAuth apps: webhooks get WRONG_AUTH_TYPE (protocol §2.1). */
  appContextOnly?: boolean;
  /** Only for portal administrators: others get ACCESS_DENIED. */
  adminOnly?: boolean;
  handler(ctx: MethodContext): MethodResult | Promise<MethodResult>;
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
}
