// The example app (examples/integrations/, docs/plugins.md): `b24kit start --app ./app.js`.
// Settings from the environment (B24_CLIENT_ID, DATABASE_URL, …), the email service's URL from
// MAILER_URL. Each portal's secrets are set with `b24kit settings set <memberId> shop.signingSecret`.
import { createApp } from '../../src/index.js';
import { registerIntegrations } from './integrations.js';

const app = registerIntegrations(createApp(), {
  mailer: { serviceUrl: process.env.MAILER_URL ?? 'https://api.mail.example' },
});

export default app;
