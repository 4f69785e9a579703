/**
 * Contacts sync at the Done-when size: 10,000 contacts only in the CRM and 10,000 members only in
 * Mailchimp (20,000 in all), the first full sync both ways, then edits on both sides at once — CRM
 * users edit 1,000 contacts, Mailchimp contacts edit 1,000 profiles and 500 unsubscribe, then CRM
 * users edit 250 of the unsubscribed — settled. Judged by both emulators: every contact and member
 * agree, the unsubscribes are kept, and the writes are exactly the ones the edits call for (an
 * extra write would be an echo); a reconciliation and a poll afterwards write nothing.
 *
 * The same shape, smaller, is a test (test/integrations/contacts-sync.test.ts). The portal's and the
 * app's request bucket are opened wide (1,000/s): this measures the sync's own work, not Bitrix24's
 * 2 requests a second (at that rate the first sync's 10,000 CRM creations, 50 per batch, take 100 s).
 */
import os from 'node:os';
import { runConvergence, startContactsHarness } from '../test/helpers/contacts-sync.js';
import type { BenchSection } from './run.js';

const SHAPE = { crmOnly: 10_000, serviceOnly: 10_000, crmEdits: 1_000, serviceEdits: 1_000, unsubscribes: 500, crmEditsOfUnsubscribed: 250 };

export async function run(): Promise<BenchSection> {
  const h = await startContactsHarness({ webhook: false, settleTimeoutMs: 1_800_000 });
  try {
    const load = os.loadavg()[0]!.toFixed(1);
    const r = await runConvergence(h, SHAPE);
    const rows = [
      ['contacts / members at the end', `${r.contacts} / ${r.members}`, '20,000 / 20,000'],
      ['first full sync: CRM contacts created, members upserted', `${r.firstSync.crmCreated}, ${r.firstSync.serviceUpserted}`, '10,000, 10,000'],
      ['first full sync: the reconciliation itself (read both sides, write 20,000)', `${(r.reconcileMs / 1000).toFixed(1)} s`, ''],
      ['… then its 10,000 ONCRMCONTACTADD echoes handled and dropped (settled)', `${((r.firstSyncMs - r.reconcileMs) / 1000).toFixed(1)} s`, ''],
      ['edits on both sides → settled, wall time', `${(r.editsSettledMs / 1000).toFixed(1)} s`, ''],
      ['contacts that disagree with their member', String(r.disagreements.length), '0'],
      ['unsubscribes lost (re-subscribed or unmarked)', String(r.unsubscribesLost), '0'],
      ['Mailchimp writes in the edit phase / called for', `${r.serviceWrites} / ${r.serviceWritesExpected}`, 'equal (no echo)'],
      ['crm.contact.update in the edit phase / called for', `${r.crmUpdates} / ${r.crmUpdatesExpected}`, 'equal (no echo)'],
      ['writes of a reconciliation + a poll afterwards', String(r.writesAfter), '0'],
    ];
    const ok = r.contacts === 20_000 && r.members === 20_000 && r.disagreements.length === 0 && r.unsubscribesLost === 0 && r.serviceWrites === r.serviceWritesExpected && r.crmUpdates === r.crmUpdatesExpected && r.writesAfter === 0;
    const markdown = [
      'Both emulators and the app in one process (SQLite), the buckets opened to 1,000 requests/s; counts from the emulators\' stats. ' +
        `Shared 2-core machine, load average ${load} at the start: wall times are indicative only.`,
      '',
      '| measure | result | goal |',
      '|---|---|---|',
      ...rows.map((row) => `| ${row.join(' | ')} |`),
      '',
      ok ? '**Converged, no echo write, unsubscribes kept.**' : '**NOT converged or echo writes seen — see the table.**',
    ].join('\n');
    return { title: 'Contacts sync: 20,000 contacts both ways, then edits on both sides', markdown };
  } finally {
    await h.close();
  }
}
