/**
 * Compile-time checks (run by `npm run typecheck`): job payloads declared once are checked at both
 * ends — `job()` handlers see the declared type, `enqueue()` and `ingest()` accept only it — for
 * the app (`createApp<{ jobs }>()`) and for a plugin (`setup(kit: AppKit<S, J>)`), and settings
 * types follow the schema.
 */
import { z } from 'zod';
import { createApp, definePlugin, type AppKit } from '../../src/index.js';

interface Order {
  id: number;
  currency: string;
}

const app = createApp<{ jobs: { 'shop.order': Order; 'mail.sync': { contactId: string } } }>();
app.job('shop.order', (ctx) => {
  const currency: string = ctx.payload.currency;
  // @ts-expect-error the payload has no `total`
  void ctx.payload.total;
  return currency;
});
// @ts-expect-error an undeclared job name
app.job('shop.refund', () => undefined);
void app.enqueue('m', 'shop.order', { id: 1, currency: 'EUR' });
// @ts-expect-error a payload of the wrong shape
void app.enqueue('m', 'shop.order', { id: '1', currency: 'EUR' });
// @ts-expect-error another job's payload
void app.ingest('m', 'mail.sync', 'ext-1', { id: 1, currency: 'EUR' });
void app.ingest('m', 'mail.sync', 'ext-1', { contactId: '7' });

// an app without declared jobs takes any name with a JSON payload
const loose = createApp();
loose.job('anything', (ctx) => ctx.payload);
void loose.enqueue('m', 'anything', { any: ['json', 1, null] });
// @ts-expect-error not JSON
void loose.enqueue('m', 'anything', { when: new Date() });

const schema = z.object({ signingSecret: z.string(), listId: z.string().default('main') });
export const typed = definePlugin({
  name: 'typed',
  settings: { schema, secrets: ['signingSecret'] },
  setup(kit: AppKit<z.infer<typeof schema>, { 'typed.sync': { contactId: string } }>) {
    kit.job('typed.sync', async (ctx) => {
      const settings = await ctx.settings.get();
      const secret: string = settings.signingSecret;
      const contactId: string = ctx.payload.contactId;
      // @ts-expect-error settings have no `apiKey`
      void settings.apiKey;
      return `${secret.length}:${contactId}`;
    });
    kit.route('POST', '/typed/:memberId', async (ctx) => ctx.ingest('typed.sync', 'x', { contactId: '1' }), { auth: 'none' });
    // @ts-expect-error the route's ingest is checked too
    kit.route('POST', '/typed2/:memberId', async (ctx) => ctx.ingest('typed.sync', 'x', { contact: 1 }), { auth: 'none' });
  },
});
