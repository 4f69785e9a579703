/**
 * The framework's own access to an app's parts: the CLI (settings), the built-ins' wiring and our
 * tests reach the store, the queue and the registry through this, never through the public API
 * (`app.init()` returns nothing). Not exported from the package.
 */
import type { AppDefinitions } from './definitions.js';
import type { AppServices } from './services.js';
import type { ResolvedSettings } from './settings.js';

export interface AppInternals {
  definitions: AppDefinitions;
  settings: ResolvedSettings;
  /** Opens the app's parts (once) and returns them. */
  services(): Promise<AppServices>;
}

export const internals = new WeakMap<object, AppInternals>();

/** The parts of an app (opened on first call). */
export function appInternals(app: object): AppInternals {
  const found = internals.get(app);
  if (!found) throw new TypeError('not a b24kit app');
  return found;
}
