import type { MethodRegistry } from '../methods/registry.js';
import { registerLegacyCrmMethods } from './legacy-methods.js';
import { registerItemMethods } from './item-methods.js';
import { registerProductRowMethods } from './product-rows.js';
import { registerDuplicateMethods } from './duplicates.js';
import { registerStatusMethods } from './status-methods.js';
import { registerUserFieldMethods } from './user-field-methods.js';
import { registerTypeMethods } from './type-methods.js';

/** crm.* methods (docs/protocol.md §6). All need the `crm` scope. */
export function registerCrmMethods(registry: MethodRegistry): void {
  registerLegacyCrmMethods(registry);
  registerItemMethods(registry);
  registerProductRowMethods(registry);
  registerDuplicateMethods(registry);
  registerStatusMethods(registry);
  registerUserFieldMethods(registry);
  registerTypeMethods(registry);
}
