// The first snippet of docs/plugins.md, kept here so that `npm run typecheck` compiles it and
// test/examples/plugins-doc-snippet.test.ts runs it (and checks that the doc still shows it).
// app.ts — a web form's submissions become CRM leads
import { z } from 'zod';
import { auth, B24Error, createApp, definePlugin, type AppKit } from '../src/index.js';

const Settings = z.object({
  formSecret: z.string().min(16), // shared with the form's server, which signs each POST
  sourceId: z.string().default('WEB'), // the leads' SOURCE_ID
});
type Settings = z.infer<typeof Settings>;

const Submission = z.object({ id: z.string().min(1).max(100), name: z.string().min(1).max(200), email: z.email() });
type Submission = z.infer<typeof Submission>;

export const formLeads = definePlugin({
  name: 'form-leads',
  settings: { schema: Settings, secrets: ['formSecret'] },
  setup(kit: AppKit<Settings, { 'form-leads.lead': Submission }>, options: { titlePrefix: string }) {
    // X-Form-Signature: sha256=<hex HMAC-SHA256 of the body under formSecret>
    kit.route(
      'POST',
      '/api/v1/:memberId/leads',
      async (ctx) => {
        const submission = Submission.safeParse(ctx.body);
        if (!submission.success) throw new B24Error('B24_ERR_BAD_REQUEST', 'invalid submission', { status: 400 });
        const { job, outcome } = await ctx.ingest('form-leads.lead', submission.data.id, submission.data);
        ctx.status(202); // stored; the lead is made by the job
        return { jobId: job.id, outcome };
      },
      { auth: auth.hmac({ header: 'x-form-signature', prefix: 'sha256=', secret: 'formSecret' }) },
    );

    kit.job('form-leads.lead', async (ctx) => {
      const { id, name, email } = ctx.payload;
      const { sourceId } = await ctx.settings.get();
      // ORIGINATOR_ID + ORIGIN_ID: a second run finds the lead instead of adding another
      const { result: found } = await ctx.b24.call<Array<{ ID: string }>>('crm.lead.list', {
        filter: { ORIGINATOR_ID: 'web-form', ORIGIN_ID: id },
        select: ['ID'],
        start: -1,
      });
      if (found[0]) return { leadId: Number(found[0].ID) };
      const { result: leadId } = await ctx.b24.call<number>('crm.lead.add', {
        fields: { TITLE: `${options.titlePrefix} ${name}`, NAME: name, EMAIL: [{ VALUE: email, VALUE_TYPE: 'WORK' }], SOURCE_ID: sourceId, ORIGINATOR_ID: 'web-form', ORIGIN_ID: id },
      });
      return { leadId };
    });

    kit.onInstall((ctx) => ctx.log.info(`form-leads: run \`b24kit settings rotate ${ctx.portal.memberId} form-leads.formSecret\` and give the form the secret`));
  },
});

const app = createApp();
app.register(formLeads, { titlePrefix: 'Web form:' });
export default app;
