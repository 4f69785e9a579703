/**
 * Plugin `pipeline`: a robot on a schedule. Every morning, per portal (in the portal's time zone),
 * it counts the open deals and flags those whose expected close date (CLOSEDATE) has passed more
 * than `graceDays` ago, in a user field a manager can filter the deal list by. It sets its default
 * settings when a portal installs the app, and logs the uninstall.
 *
 * The field must exist on a real portal: create it once (CRM settings, or crm.deal.userfield.add,
 * https://apidocs.bitrix24.com/api-reference/crm/deals/user-defined-fields/crm-deal-userfield-add.html);
 * the emulator stores any UF_CRM_* field as sent.
 */
import { z } from 'zod';
import { definePlugin, type AppKit } from '../../src/index.js';

export const PipelineSettings = z.object({
  /** The deal field set to `Y` on overdue deals. */
  overdueField: z.string().regex(/^UF_CRM_[A-Z0-9_]{1,40}$/),
  /** Days past CLOSEDATE before a deal counts as overdue. */
  graceDays: z.number().int().min(0).max(365),
});
export type PipelineSettings = z.infer<typeof PipelineSettings>;

/** What a portal gets at install (an admin may change it later: `b24kit settings set`). */
export const PIPELINE_DEFAULTS: PipelineSettings = { overdueField: 'UF_CRM_OVERDUE', graceDays: 0 };

export interface PipelineOptions {
  /** When to run (croner syntax), in each portal's time zone. @defaultValue '0 8 * * *' */
  cron?: string;
}

interface OpenDeal {
  ID: string;
  [field: string]: unknown;
}

const DAY_MS = 86_400_000;

export const pipelinePlugin = definePlugin({
  name: 'pipeline',
  settings: { schema: PipelineSettings },
  setup(kit: AppKit<PipelineSettings>, options: PipelineOptions = {}) {
    kit.onInstall(async (ctx) => {
      // only what is missing: a re-install keeps what the portal's admin chose
      const stored = await ctx.settings.peek();
      const missing = Object.fromEntries(Object.entries(PIPELINE_DEFAULTS).filter(([key]) => stored[key as keyof PipelineSettings] === undefined));
      await ctx.settings.set(missing);
      ctx.log.info({ defaults: Object.keys(missing) }, 'pipeline: default settings stored');
    });

    kit.onUninstall((ctx) => {
      ctx.log.info({ clean: ctx.clean }, ctx.clean ? 'pipeline: uninstalled; the portal asked to delete its data' : 'pipeline: uninstalled; settings kept for a re-install');
    });

    kit.schedule('pipeline.overdue', options.cron ?? '0 8 * * *', async (ctx) => {
      const { overdueField, graceDays } = await ctx.settings.get();
      // the portal's calendar day: a date without an offset is read in the portal's zone
      const cutoff = calendarDay(ctx.schedule.fireTimeMs - graceDays * DAY_MS, ctx.schedule.timeZone);
      const open = await ctx.b24.call<OpenDeal[]>('crm.deal.list', { filter: { CLOSED: 'N' }, select: ['ID'], start: 0 });
      const overdue = await ctx.b24.listAll<OpenDeal>('crm.deal.list', { filter: { CLOSED: 'N', '<CLOSEDATE': cutoff }, select: ['ID', overdueField] });
      const toFlag = overdue.filter((deal) => deal[overdueField] !== 'Y');
      if (toFlag.length > 0) {
        const { errors } = await ctx.b24.batch(toFlag.map((deal) => ['crm.deal.update', { id: deal.ID, fields: { [overdueField]: 'Y' } }] as const));
        const failed = Object.values(errors);
        // the next run flags what failed now; a throw would redo the whole batch for a few rows
        if (failed.length > 0) ctx.log.warn({ failed: failed.length, first: failed[0]?.message }, 'pipeline: some deals could not be flagged');
      }
      ctx.log.info({ open: open.total ?? 0, overdue: overdue.length, flagged: toFlag.length, cutoff }, `pipeline: ${open.total ?? 0} open deals, ${overdue.length} overdue`);
      return { open: open.total ?? 0, overdue: overdue.length, flagged: toFlag.length };
    });
  },
});

/** `YYYY-MM-DD` of an instant in a time zone. */
function calendarDay(ms: number, timeZone: string): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(ms);
}
