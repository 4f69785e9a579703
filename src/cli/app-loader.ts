/**
 * Which app `b24kit start|web|worker` runs:
 * - `--app ./app.js`: a module whose default export (or `app` export) is the app from createApp();
 * - no `--app`, demo mode (no B24_CLIENT_ID): the sample app of app/builtins/demo-app.ts, with the
 *   built-in integrations;
 * - no `--app` otherwise: an app with no handlers (install, OAuth and lifecycle only), with a warning.
 * A user's own script may instead call `app.start()` itself (docs/app.md).
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Logger as PinoLogger } from 'pino';
import { createApp, type B24App } from '../app/create-app.js';
import { registerDemoApp } from '../app/builtins/demo-app.js';
import { B24Error } from '../errors.js';

export async function loadApp(options: { appPath?: string; logger: PinoLogger; demoTrickleMs?: number }): Promise<B24App> {
  if (options.appPath) {
    const module = (await import(pathToFileURL(path.resolve(options.appPath)).href)) as { default?: unknown; app?: unknown };
    const app = module.default ?? module.app;
    if (!isApp(app)) throw new B24Error('B24_ERR_CONFIG', `${options.appPath} exports no app: export the result of createApp() as default (or as \`app\`)`);
    return app;
  }
  const app = createApp({ logger: options.logger, ...(options.demoTrickleMs ? { demoTrickleMs: options.demoTrickleMs } : {}) });
  if (app.demo) registerDemoApp(app);
  else options.logger.warn({}, 'no --app given: serving install, OAuth and lifecycle events only (no handlers)');
  return app;
}

function isApp(value: unknown): value is B24App {
  const candidate = value as Partial<B24App> | null;
  return typeof candidate?.start === 'function' && typeof candidate.stop === 'function' && typeof candidate.on === 'function';
}
