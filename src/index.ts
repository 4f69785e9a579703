/**
 * The public surface of b24kit. Everything not listed here is internal.
 * test/exports.test.ts pins this list.
 */
export {
  Emulator,
  startEmulator,
  buildEmulatorServer,
  REALISTIC_COST,
  ZERO_COST,
  DEFAULT_LIMITS,
  ENTERPRISE_LIMITS,
  type RunningEmulator,
  type StartEmulatorOptions,
  type EmulatorOptions,
  type EmulatorOptionsInput,
  type CostModel,
  type PortalLimits,
  type BatchBilling,
} from './emulator/index.js';
