import type { MethodRegistry } from './registry.js';
import { registerSystemMethods } from './system.js';
import { registerBatchMethod } from './batch.js';
import { registerCrmMethods } from '../crm/methods.js';
import { registerEventMethods } from '../events/methods.js';
import { registerBizprocMethods } from '../robots/methods.js';
import { registerUserMethods } from '../users/methods.js';
import { registerTimelineMethods } from '../timeline/methods.js';
import { registerTaskMethods } from '../tasks/methods.js';
import { registerAutomationMethods } from '../automation/triggers.js';

/** Every REST method the emulator serves. */
export function registerAllMethods(registry: MethodRegistry): void {
  registerSystemMethods(registry);
  registerBatchMethod(registry);
  registerCrmMethods(registry);
  registerEventMethods(registry);
  registerBizprocMethods(registry);
  registerUserMethods(registry);
  registerTimelineMethods(registry);
  registerTaskMethods(registry);
  registerAutomationMethods(registry);
}
