import type { FastifyInstance } from 'fastify';
import type { Emulator } from '../emulator.js';
import { registerPortalControlRoutes } from './portals.js';
import { registerCrmControlRoutes } from './crm.js';
import { registerEventControlRoutes } from './events.js';
import { registerRobotControlRoutes } from './robots.js';
import { registerLifecycleControlRoutes } from './lifecycle.js';
import { registerUserControlRoutes } from './users.js';
import { registerTimelineControlRoutes } from './timeline.js';

/** The JSON control API under `/_emulator/` (docs/emulator.md). */
export function registerControlRoutes(app: FastifyInstance, emulator: Emulator): void {
  registerPortalControlRoutes(app, emulator);
  registerCrmControlRoutes(app, emulator);
  registerEventControlRoutes(app, emulator);
  registerRobotControlRoutes(app, emulator);
  registerLifecycleControlRoutes(app, emulator);
  registerUserControlRoutes(app, emulator);
  registerTimelineControlRoutes(app, emulator);
}
