// The README's app snippet, kept here so `npm run typecheck` proves it compiles.
// app.ts (examples/quick-start-app.ts) — run with `b24kit start --app ./app.js`, or call app.start() yourself
import { createApp } from '../src/index.js';

const app = createApp(); // settings from the environment (see Configuration)

app.on('ONCRMCONTACTADD', async (ctx) => {
  const id = ctx.event.data.FIELDS.ID; // typed: the documented events have their payload types
  // once per event, however often the event is delivered or the job retried
  await ctx.once('welcome-deal', async () =>
    (await ctx.b24.call<number>('crm.deal.add', { fields: { TITLE: `Welcome ${id}`, CONTACT_ID: id } })).result,
  );
});

app.schedule('nightly', '0 3 * * *', async (ctx) => ctx.log.info('runs once per portal at 03:00 portal time'));

export default app;
