/**
 * An integration's install hint ("set … with `b24kit settings set`, then …"): logged a moment
 * after the install, and only when the portal's settings still lack what it names. Whoever installs
 * and configures in one go — demo mode, which stores the demo portal's settings right after its
 * install; a provisioning script — is not told to do what is done. A hint, not state: a process
 * that stops within the moment logs none.
 */
import type { PortalHookContext } from '../index.js';

/** How long a hint waits for the settings. */
export const INSTALL_HINT_DELAY_MS = 5000;

export function hintUnlessConfigured<S extends Record<string, unknown>>(
  ctx: Pick<PortalHookContext<S>, 'settings' | 'log'>,
  configured: (stored: Partial<S>) => boolean,
  hint: string,
  delayMs = INSTALL_HINT_DELAY_MS,
): void {
  const timer = setTimeout(() => {
    ctx.settings.peek().then(
      (stored) => void (configured(stored) ? undefined : ctx.log.info(hint)),
      // the app stopped meanwhile (its store closed): nothing to hint at
      () => undefined,
    );
  }, delayMs);
  timer.unref();
}
