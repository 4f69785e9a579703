import type { MethodRegistry } from './registry.js';

/** `batch` (protocol §5.3). */
export function registerBatchMethod(_registry: MethodRegistry): void {}
