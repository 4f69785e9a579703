/**
 * Plan awareness (docs/protocol.md §5.1): Enterprise portals drain 5 req/s with a bucket of 250, all
 * others 2/50. The plan is `LICENSE_FAMILY` in app.info; it changes rarely (an upgrade), so it is
 * read once per portal — on first use — kept with the portal's bucket in the shared store, and
 * read again once a day. Until it is known the limiter uses the default limits, which are the
 * lower ones, so not knowing the plan is slow, never over the limit.
 */
import { bucketLimitsForLicense, type BucketLimits, type PlanSource } from './limiter.js';
import type { B24Logger } from './hooks.js';

/** A portal's plan as last read from app.info. */
export interface PlanRecord {
  /** `LICENSE_FAMILY` (or a webhook's `LICENSE`); '' when app.info named none. */
  licenseFamily: string;
  /** Epoch ms of the read. */
  checkedAtMs: number;
}

/** Where plans are kept between processes (the store-backed bucket table keeps them). */
export interface PlanStore {
  readPlan(key: string): Promise<PlanRecord | undefined>;
  writePlan(key: string, plan: PlanRecord): Promise<void>;
}

export interface PortalPlansOptions {
  /** Shared plan records. @defaultValue none: each process reads app.info once per portal */
  store?: PlanStore;
  /** Age after which a plan is read again, in ms. @defaultValue 86400000 (a day) */
  refreshAfterMs?: number;
  /** After a failed read (app.info or the store), how long to use the default limits before trying again, in ms. @defaultValue 600000 */
  retryAfterMs?: number;
  /** Epoch ms; the same clock as the bucket store's. @defaultValue Date.now */
  now?: () => number;
  logger?: B24Logger;
}

interface Cached {
  limits: BucketLimits | undefined;
  /** Epoch ms after which the plan is looked up again. */
  untilMs: number;
}

/** Plans of many portals: memory first, then the store, then app.info; one lookup per portal at a time. */
export class PortalPlans implements PlanSource {
  readonly #store: PlanStore | undefined;
  readonly #refreshAfterMs: number;
  readonly #retryAfterMs: number;
  readonly #now: () => number;
  readonly #logger: B24Logger | undefined;
  readonly #cache = new Map<string, Cached>();
  readonly #lookups = new Map<string, Promise<BucketLimits | undefined>>();

  constructor(options: PortalPlansOptions = {}) {
    this.#store = options.store;
    this.#refreshAfterMs = options.refreshAfterMs ?? 86_400_000;
    this.#retryAfterMs = options.retryAfterMs ?? 600_000;
    this.#now = options.now ?? Date.now;
    this.#logger = options.logger;
  }

  async limitsFor(key: string, readLicense: () => Promise<string | undefined>): Promise<BucketLimits | undefined> {
    const cached = this.#cache.get(key);
    if (cached && this.#now() < cached.untilMs) return cached.limits;
    let lookup = this.#lookups.get(key);
    if (!lookup) {
      lookup = this.#lookup(key, cached, readLicense).finally(() => this.#lookups.delete(key));
      this.#lookups.set(key, lookup);
    }
    return lookup;
  }

  async #lookup(key: string, cached: Cached | undefined, readLicense: () => Promise<string | undefined>): Promise<BucketLimits | undefined> {
    let stored: PlanRecord | undefined;
    try {
      stored = await this.#store?.readPlan(key);
    } catch (error) {
      this.#logger?.warn({ memberId: key, err: error }, 'b24kit: could not read the cached plan; using the limits known so far');
      return this.#remember(key, cached?.limits, this.#now() + this.#retryAfterMs);
    }
    // another process (or an earlier run) read it recently
    if (stored && this.#now() - stored.checkedAtMs < this.#refreshAfterMs) {
      return this.#remember(key, bucketLimitsForLicense(stored.licenseFamily), stored.checkedAtMs + this.#refreshAfterMs);
    }
    let licenseFamily: string;
    try {
      licenseFamily = (await readLicense()) ?? '';
    } catch (error) {
      const known = stored ? bucketLimitsForLicense(stored.licenseFamily) : cached?.limits;
      this.#logger?.warn({ memberId: key, err: error }, 'b24kit: app.info failed; the plan is read again later');
      return this.#remember(key, known, this.#now() + this.#retryAfterMs);
    }
    const plan: PlanRecord = { licenseFamily, checkedAtMs: this.#now() };
    try {
      await this.#store?.writePlan(key, plan);
    } catch (error) {
      this.#logger?.warn({ memberId: key, err: error }, 'b24kit: could not store the plan; other processes will read app.info themselves');
    }
    return this.#remember(key, bucketLimitsForLicense(licenseFamily), plan.checkedAtMs + this.#refreshAfterMs);
  }

  #remember(key: string, limits: BucketLimits | undefined, untilMs: number): BucketLimits | undefined {
    this.#cache.set(key, { limits, untilMs });
    return limits;
  }
}
