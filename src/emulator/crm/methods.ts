import type { MethodRegistry } from '../methods/registry.js';

/** crm.* methods (protocol §6). */
export function registerCrmMethods(_registry: MethodRegistry): void {}
