/**
 * The three plugins as one app: store orders → deals (`shop`), contacts ↔ an email service
 * (`mailer`), a scheduled robot over the pipeline (`pipeline`). A function over the app, so that the
 * app module (app.ts) and the tests (test/examples/integrations-app.test.ts) declare the same thing.
 */
import type { B24App } from '../../src/index.js';
import { mailerPlugin, type MailerOptions } from './mailer.js';
import { pipelinePlugin, type PipelineOptions } from './pipeline.js';
import { shopPlugin, type ShopOptions } from './shop.js';

export interface IntegrationsOptions {
  shop?: ShopOptions;
  mailer: MailerOptions;
  pipeline?: PipelineOptions;
}

export function registerIntegrations(app: B24App, options: IntegrationsOptions): B24App {
  return app.register(shopPlugin, options.shop ?? {}).register(mailerPlugin, options.mailer).register(pipelinePlugin, options.pipeline ?? {});
}
