// The portal lifecycle end to end on this run's store (SQLite, or PostgreSQL under `npm run test:pg`).
import { describePortalLifecycle } from '../portals/lifecycle-suite.js';

describePortalLifecycle('contract: portal lifecycle end to end against the emulator');
