import type { MethodRegistry } from '../methods/registry.js';

/** event.*, events, event.offline.* (protocol §3). */
export function registerEventMethods(_registry: MethodRegistry): void {}
