import { describePortalLifecycle } from './lifecycle-suite.js';

describePortalLifecycle('portal lifecycle end to end: install → refresh → update → uninstall CLEAN=1');
