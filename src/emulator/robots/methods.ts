import type { MethodRegistry } from '../methods/registry.js';

/** bizproc.* (protocol §7). */
export function registerBizprocMethods(_registry: MethodRegistry): void {}
