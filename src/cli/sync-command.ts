/**
 * `b24kit sync contacts <memberId> [--app ./app.js] [--json]`: the contacts sync's full
 * reconciliation of one portal, now, in this process — the first full sync, or a repair — with the
 * progress of each phase on stderr (a redrawn line on a terminal, one line per phase otherwise) and
 * the report on stdout.
 *
 * It runs the same function as the plugin's nightly schedule (`reconcileContacts`) over the app's
 * store, key and REST limits, with the portal's `contacts.*` settings; the app need not run, and
 * need not register the plugin (its settings namespace is `contacts` either way). An app that gave
 * the plugin another email service (`adapter`) is synced by its own schedule: this command speaks
 * to Mailchimp.
 */
import type { Command } from 'commander';
import { appInternals } from '../app/internals.js';
import type { SettingsDeclaration } from '../app/kit.js';
import { PortalValues } from '../app/portal-values.js';
import { B24Error } from '../errors.js';
import { createSecretBox, resolveSecretKey } from '../store/crypto.js';
import { openStore } from '../store/index.js';
import { PortalRegistry } from '../store/portals.js';
import { ContactsSettings } from '../integrations/contacts/plugin.js';
import { DEFAULT_UNSUBSCRIBED_FIELD, ensureUnsubscribedField } from '../integrations/contacts/crm.js';
import { MailchimpAdapter } from '../integrations/contacts/mailchimp.js';
import { ensureSyncTables, SyncState } from '../integrations/contacts/state.js';
import { reconcile, type ReconcileProgress, type ReconcileReport } from '../integrations/contacts/sync.js';
import { loadApp } from './app-loader.js';
import { cliConfig, cliLogger, cliPortalRuntime, describeError } from './context.js';
import { startProgress, type Progress } from './progress.js';

const PHASES: Record<ReconcileProgress['phase'], string> = {
  'read-crm': 'CRM contacts read',
  'read-service': 'members read',
  'write-crm': 'CRM contacts written',
  'write-service': 'members written',
};

/** Progress per phase: redrawn on a terminal; otherwise one line when a phase ends (no carriage returns in a pipe). */
function phaseReporter(stream: NodeJS.WriteStream = process.stderr): { update(progress: ReconcileProgress): void; end(): void } {
  let current: { phase: ReconcileProgress['phase']; done: number; bar: Progress } | undefined;
  const close = (): void => {
    if (!current) return;
    current.bar.end();
    stream.write(`b24kit: ${current.done} ${PHASES[current.phase]}\n`);
    current = undefined;
  };
  return {
    update(progress) {
      if (current?.phase !== progress.phase) {
        close();
        current = { phase: progress.phase, done: 0, bar: startProgress(PHASES[progress.phase], Math.max(progress.total, 2), stream) };
      }
      current.done = progress.done;
      current.bar.update(progress.done);
    },
    end: close,
  };
}

export async function syncContacts(memberId: string, options: { appPath?: string; json?: boolean }): Promise<ReconcileReport> {
  const config = cliConfig();
  const logger = cliLogger(config);
  const app = await loadApp({ logger: options.appPath ? logger : cliLogger(config, 'error'), ...(options.appPath ? { appPath: options.appPath } : {}) });
  const { definitions, settings: resolved } = appInternals(app);
  const declarations = new Map<string, SettingsDeclaration>(definitions.settings);
  if (!declarations.has('contacts')) declarations.set('contacts', { schema: ContactsSettings as never, secrets: ['apiKey', 'webhookSecret'] });
  const store = resolved.store ?? (await openStore({ url: resolved.databaseUrl, logger }));
  const runtime = cliPortalRuntime(config, store, logger);
  try {
    const secrets = createSecretBox(resolveSecretKey({ key: resolved.secretKey, dataDir: resolved.dataDir }));
    if (!(await new PortalRegistry({ store, secrets }).info(memberId))) throw new B24Error('B24_ERR_PORTAL_NOT_FOUND', `no portal ${memberId}`, { memberId });
    const values = new PortalValues({ store, secrets, nowMs: resolved.nowMs, declarations });
    const settings = (await values.for(memberId, 'contacts').get()) as ContactsSettings;
    // the app's REST options (its limits included): the command is one more caller of the portal
    const b24 = runtime.client(memberId, { ...resolved.config.rest });
    const adapter = new MailchimpAdapter({ apiKey: settings.apiKey, ...(settings.baseUrl ? { baseUrl: settings.baseUrl } : {}) });
    const reporter = phaseReporter();
    try {
      await ensureSyncTables(store);
      await ensureUnsubscribedField(b24, DEFAULT_UNSUBSCRIBED_FIELD);
      return await reconcile(
        {
          b24,
          adapter,
          state: new SyncState(store, memberId),
          listId: settings.listId,
          statusIfNew: settings.statusIfNew,
          unsubscribedField: DEFAULT_UNSUBSCRIBED_FIELD,
          log: logger,
          transaction: (fn) => store.transaction((tx) => fn(new SyncState(tx, memberId))),
        },
        { onProgress: (progress) => reporter.update(progress) },
      );
    } finally {
      reporter.end();
      await adapter.close();
      await b24.close();
    }
  } finally {
    if (!resolved.store) await store.close();
  }
}

export function registerSyncCommand(program: Command): void {
  const sync = program.command('sync').description('run a built-in integration\'s sync now');
  sync
    .command('contacts <memberId>')
    .description('reconcile the portal\'s CRM contacts and its Mailchimp audience both ways (the first full sync, or a repair); settings contacts.*')
    .option('--app <path>', 'the app module (its store, key and settings)')
    .option('--json', 'print the report as JSON')
    .action(async (memberId: string, options: { app?: string; json?: boolean }) => {
      try {
        const report = await syncContacts(memberId, { ...(options.app ? { appPath: options.app } : {}), ...(options.json ? { json: true } : {}) });
        if (options.json) console.log(JSON.stringify(report));
        else {
          console.log(
            `contacts ${report.contacts}, members ${report.members}: ${report.crmCreated} contact(s) created, ${report.crmUpdated} updated, ` +
              `${report.serviceUpserted} member(s) written, ${report.skipped} skipped`,
          );
        }
      } catch (error) {
        console.error(`b24kit: ${describeError(error)}`);
        process.exitCode = 1;
      }
    });
}
