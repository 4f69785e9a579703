import type { FastifyInstance } from 'fastify';
import type { Emulator } from '../emulator.js';
import { registerPortalControlRoutes } from './portals.js';

/** The JSON control API under `/_emulator/` (docs/emulator.md). */
export function registerControlRoutes(app: FastifyInstance, emulator: Emulator): void {
  registerPortalControlRoutes(app, emulator);
}
