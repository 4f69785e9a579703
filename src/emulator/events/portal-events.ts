import type { Emulator } from '../emulator.js';
import type { Portal } from '../portal.js';
import type { IssuedTokens } from '../oauth/token-registry.js';
import { authBlock } from '../auth-block.js';
import { eventProfile, type EventProfile } from './catalog.js';
import { OfflineQueue, type OfflineRecord } from './offline-queue.js';
import { Outbox, type DeliveryLogEntry } from './outbox.js';

export interface EmitOptions {
  /** The user whose action fired the event; no tokens are sent without one (docs/protocol.md §3.3). */
  userId?: number;
  /**
   * The `auth_connector` of the app's own OAuth REST call that caused the change ('' when the call
   * had none); leave it undefined when the change did not come from the app (UI, automation,
   * webhook, control API). As in the core's ProviderOffline, a change made by the app is not
   * queued for its offline bindings with the same connector — '' included: the app's own
   * connector-less writes skip its connector-less queue (docs/protocol.md §3.6).
   */
  authConnector?: string;
}

/** Extra knobs for the emulator's own lifecycle events (lifecycle.ts). */
export interface InternalEmitOptions extends EmitOptions {
  /** Tokens to send to bindings for this user, instead of issuing new ones (ONAPPUPDATE's new pair). */
  tokens?: IssuedTokens;
  /** Handler URLs to deliver to without a binding (ONAPPUNINSTALL `handlerUrl`), once each. */
  extraHandlers?: string[];
}

/** One `event.bind` registration (docs/protocol.md §3.1). */
export interface EventBinding {
  id: number;
  event: string;
  /** '' for offline bindings. */
  handler: string;
  /** `auth_type`: the user whose token the handler gets; 0 = the user who fired the event. */
  userId: number;
  offline: boolean;
  /** `auth_connector` of the bind call (offline queues, docs/protocol.md §3.6). */
  connectorId: string;
  options: Record<string, number>;
  createdAtMs: number;
}

/** What one emit queued: the control API's answer to `POST …/events`. */
export interface EmitReport {
  event: string;
  online: DeliveryLogEntry[];
  offline: Array<{ ID: number; MESSAGE_ID: string; connector_id: string }>;
}

/** Access tokens in event payloads are reused while they have this much life left. */
const TOKEN_REUSE_MARGIN_MS = 5 * 60 * 1000;

/** Event bindings, online delivery and the offline queue of one portal (docs/protocol.md §3). */
export class PortalEvents {
  readonly bindings: EventBinding[] = [];
  readonly outbox: Outbox;
  readonly offline: OfflineQueue;
  #emulator: Emulator | undefined;
  #nextBindingId = 1;
  readonly #tokenCache = new Map<number, IssuedTokens>();
  readonly #lastOfflinePingMs = new Map<number, number>();

  constructor(readonly portal: Portal) {
    const now = (): number => this.#emulator?.clock.nowMs() ?? Date.now();
    this.offline = new OfflineQueue(now);
    this.outbox = new Outbox({
      nowMs: now,
      timeoutMs: () => this.#emulator?.options.deliveryTimeoutMs ?? 5000,
      onResult: (entry, result) => {
        if (entry.kind !== 'event') return;
        // no redelivery on failure, like the real queue server (docs/protocol.md §3.5)
        if (result.ok) this.portal.stats.eventsDelivered += 1;
        else this.portal.stats.eventsFailed += 1;
        if (result.timedOut) this.portal.stats.eventsTimedOut += 1;
        if (entry.throttled_ms > 0) this.portal.stats.eventsThrottled += 1;
      },
    });
  }

  /** Connects the portal to its emulator (tokens, clock, options); Emulator.createPortal calls it. */
  attach(emulator: Emulator): void {
    this.#emulator = emulator;
  }

  /** Adds a binding; throws 'duplicate' if the same one exists. */
  bind(input: Omit<EventBinding, 'id' | 'createdAtMs'>): EventBinding {
    const duplicate = this.bindings.some(
      (b) =>
        b.event === input.event &&
        b.offline === input.offline &&
        b.handler === input.handler &&
        (input.offline ? b.connectorId === input.connectorId : b.userId === input.userId),
    );
    if (duplicate) throw new Error('duplicate');
    const binding: EventBinding = { ...input, id: this.#nextBindingId++, createdAtMs: this.#emulator?.clock.nowMs() ?? Date.now() };
    this.bindings.push(binding);
    return binding;
  }

  /** Removes the bindings `predicate` selects; returns how many. */
  unbind(predicate: (binding: EventBinding) => boolean): number {
    let count = 0;
    for (let i = this.bindings.length - 1; i >= 0; i--) {
      if (predicate(this.bindings[i]!)) {
        this.bindings.splice(i, 1);
        count += 1;
      }
    }
    return count;
  }

  /** Fires `eventName` (upper case, e.g. ONCRMDEALADD) with `data` (e.g. `{FIELDS: {ID: '5'}}`) to every binding. */
  emit(eventName: string, data: Record<string, unknown>, opts: EmitOptions = {}): void {
    this.fire(eventName, data, opts);
  }

  /** `emit` that also reports what it queued (control API, lifecycle). */
  fire(eventName: string, data: Record<string, unknown>, opts: InternalEmitOptions = {}): EmitReport {
    const event = eventName.toUpperCase();
    const report: EmitReport = { event, online: [], offline: [] };
    const emulator = this.#emulator;
    const app = this.portal.app;
    if (!emulator || !app || this.portal.deleted) return report;
    const profile = eventProfile(event) ?? { scope: 'basic', sendAuth: true, sendRefreshToken: false, disableOffline: false, allowOptions: {} };

    const delivered = new Set<string>();
    for (const binding of this.bindings.filter((b) => b.event === event)) {
      if (binding.offline) {
        if (opts.authConnector !== undefined && opts.authConnector === binding.connectorId) continue;
        const additional = { user_id: opts.userId ?? 0 };
        const record = this.offline.record(event, data, additional, binding.connectorId);
        report.offline.push({ ID: record.id, MESSAGE_ID: record.messageId, connector_id: record.connectorId });
        continue;
      }
      const userId = binding.userId > 0 ? binding.userId : (opts.userId ?? 0);
      report.online.push(...this.#queue(emulator, profile, event, data, binding.handler, String(binding.id), userId, opts.tokens));
      delivered.add(binding.handler);
    }
    for (const url of opts.extraHandlers ?? []) {
      if (delivered.has(url)) continue;
      delivered.add(url);
      report.online.push(...this.#queue(emulator, profile, event, data, url, null, opts.userId ?? 0, opts.tokens));
    }
    if (report.offline.length > 0) this.#pingOffline(emulator, opts.userId ?? 0);
    return report;
  }

  /** Drops every binding (app update with dropBindingsOnUpdate, uninstall). */
  dropAll(): number {
    return this.unbind(() => true);
  }

  /** The offline records, for the control API. */
  offlineRecords(): OfflineRecord[] {
    return this.offline.all();
  }

  /**
   * ONOFFLINEEVENT to its online bindings, at most one per `options.minTimeout` seconds each
   * (default 1; 0 = one per hit, and an emit is one hit here) (docs/protocol.md §3.6).
   */
  #pingOffline(emulator: Emulator, userId: number): void {
    const profile = eventProfile('ONOFFLINEEVENT')!;
    const now = emulator.clock.nowMs();
    for (const binding of this.bindings.filter((b) => b.event === 'ONOFFLINEEVENT' && !b.offline)) {
      const minTimeoutMs = (binding.options.minTimeout ?? 1) * 1000;
      const last = this.#lastOfflinePingMs.get(binding.id);
      if (minTimeoutMs > 0 && last !== undefined && now - last < minTimeoutMs) continue;
      this.#lastOfflinePingMs.set(binding.id, now);
      // current docs show `data: []` (docs/protocol.md §3.6, UNCONFIRMED): nothing under data[...] on the wire
      const pingUser = binding.userId > 0 ? binding.userId : userId;
      this.#queue(emulator, profile, 'ONOFFLINEEVENT', {}, binding.handler, String(binding.id), pingUser, undefined);
    }
  }

  #queue(
    emulator: Emulator,
    profile: EventProfile,
    event: string,
    data: Record<string, unknown>,
    url: string,
    handlerId: string | null,
    userId: number,
    override: IssuedTokens | undefined,
  ): DeliveryLogEntry[] {
    const payload: Record<string, unknown> = { event };
    if (handlerId !== null) payload.event_handler_id = handlerId;
    payload.data = data;
    payload.ts = String(emulator.clock.nowSeconds());
    payload.auth = this.#auth(emulator, profile, userId, override);
    return this.outbox.enqueue('event', event, url, payload, handlerId);
  }

  /**
   * The auth block (docs/protocol.md §3.3): tokens only when a user is known and the event sends auth;
   * refresh_token only for the events whose profile says so; application_token always.
   */
  #auth(emulator: Emulator, profile: EventProfile, userId: number, override: IssuedTokens | undefined): Record<string, string> {
    if (!profile.sendAuth) {
      // ONAPPUNINSTALL: domain, endpoints, member_id, application_token — nothing else (docs/protocol.md §2.5)
      const { scope: _scope, status: _status, ...rest } = authBlock(emulator, this.portal);
      return rest;
    }
    if (userId <= 0 || !this.portal.users.has(userId)) return authBlock(emulator, this.portal);
    const tokens = override && override.userId === userId ? override : this.#tokensFor(emulator, userId, profile.sendRefreshToken);
    return authBlock(emulator, this.portal, { tokens, withRefreshToken: profile.sendRefreshToken });
  }

  /**
   * Tokens for a user. A payload that carries refresh_token gets a fresh pair (refresh tokens are
   * single-use, two payloads must not share one); others reuse a live access token.
   */
  #tokensFor(emulator: Emulator, userId: number, withRefresh: boolean): IssuedTokens {
    const scope = this.portal.app?.scope ?? [];
    if (withRefresh) return emulator.tokens.issue(this.portal.memberId, userId, scope);
    const cached = this.#tokenCache.get(userId);
    if (cached && emulator.tokens.check(cached.accessToken).ok && cached.expires * 1000 - emulator.clock.nowMs() > TOKEN_REUSE_MARGIN_MS) {
      return cached;
    }
    const tokens = emulator.tokens.issue(this.portal.memberId, userId, scope);
    this.#tokenCache.set(userId, tokens);
    return tokens;
  }

  /** Forgets cached tokens (uninstall revokes them all). */
  forgetTokens(): void {
    this.#tokenCache.clear();
  }
}
