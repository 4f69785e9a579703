export { Emulator, type CreatePortalInput } from './emulator.js';
export { startEmulator, buildEmulatorServer, type RunningEmulator, type StartEmulatorOptions } from './server.js';
export {
  DEFAULT_LIMITS,
  ENTERPRISE_LIMITS,
  REALISTIC_COST,
  ZERO_COST,
  type EmulatorOptions,
  type EmulatorOptionsInput,
  type CostModel,
  type PortalLimits,
  type BatchBilling,
} from './options.js';
export { installApp, type InstallOutcome } from './lifecycle.js';
export type { Portal, PortalPlan, PortalFaults, PortalStats } from './portal.js';
