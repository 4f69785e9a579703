/**
 * Lifecycle hooks: called after a portal is installed (install POST, or a first code exchange),
 * after every app update and after an uninstall. The app reconciles its event and robot bindings
 * from the install and update hooks (app/bindings.ts): Bitrix24 drops an app's bindings on update
 * (docs/protocol.md §2.4).
 *
 * Hooks run one after another, after the portal is stored and before the HTTP answer. A failing
 * hook is logged and does not undo the install: the tokens are valid and stored either way.
 */
import type { PortalInfo } from '../store/portals.js';

/** `details.clean` is set for onUninstalled: whether the portal asked to delete the app's data. */
export type PortalHook = (portal: PortalInfo, details?: { clean: boolean }) => Promise<void> | void;

export interface PortalLifecycleHooks {
  /** After ONAPPINSTALL, the UI install POST, or a code exchange that stored a new portal. */
  onInstalled: PortalHook[];
  /** After ONAPPUPDATE stored the new application_token and tokens. */
  onUpdated: PortalHook[];
  /** After ONAPPUNINSTALL marked the portal uninstalled (before a CLEAN purge). */
  onUninstalled: PortalHook[];
}

export function emptyLifecycleHooks(): PortalLifecycleHooks {
  return { onInstalled: [], onUpdated: [], onUninstalled: [] };
}
