/**
 * `b24kit/testing`: an app and the Bitrix24 emulator in one process, for an app's own tests
 * (docs/testing.md). Loads the emulator: import it from tests only. test/exports.test.ts pins this list.
 */
export {
  /** Starts an emulator and an app declared by a function against it, installed into a new portal → `{ app, emulator, portal, url, fireEvent, installPortal, close }`. */
  startTestApp,
  type DefineTestApp,
  type TestApp,
  type TestAppOptions,
  type TestPortal,
  type FireEventOptions,
} from './test-app.js';
export {
  /** Calls the emulator's control API (`/_emulator/…`): clock, faults, limits, CRM seeds, events, lifecycle. */
  emulatorControl,
} from './control.js';
