/**
 * What the Marketing API side of the emulator saw: requests by `METHOD /path/{template}`, answers
 * by status, refusals, and API writes per member (`list_id/subscriber_hash`), the number a sync's
 * "echo writes" are counted with.
 */
export class MailchimpStats {
  requests = 0;
  readonly byRoute = new Map<string, number>();
  readonly byStatus = new Map<number, number>();
  /** 429s from the connection limit (not injected ones). */
  concurrencyRefusals = 0;
  readonly writesByMember = new Map<string, number>();
  webhooksDelivered = 0;
  webhooksFailed = 0;

  countRequest(method: string, template: string): void {
    this.requests += 1;
    const key = `${method} ${template}`;
    this.byRoute.set(key, (this.byRoute.get(key) ?? 0) + 1);
  }

  countStatus(status: number): void {
    this.byStatus.set(status, (this.byStatus.get(status) ?? 0) + 1);
  }

  countWrite(listId: string, hash: string): void {
    const key = `${listId}/${hash}`;
    this.writesByMember.set(key, (this.writesByMember.get(key) ?? 0) + 1);
  }

  reset(): void {
    this.requests = 0;
    this.byRoute.clear();
    this.byStatus.clear();
    this.concurrencyRefusals = 0;
    this.writesByMember.clear();
    this.webhooksDelivered = 0;
    this.webhooksFailed = 0;
  }

  toJSON(): Record<string, unknown> {
    let writes = 0;
    for (const count of this.writesByMember.values()) writes += count;
    return {
      requests: this.requests,
      byRoute: Object.fromEntries(this.byRoute),
      byStatus: Object.fromEntries(this.byStatus),
      concurrencyRefusals: this.concurrencyRefusals,
      writes,
      writesByMember: Object.fromEntries(this.writesByMember),
      webhooksDelivered: this.webhooksDelivered,
      webhooksFailed: this.webhooksFailed,
    };
  }
}
