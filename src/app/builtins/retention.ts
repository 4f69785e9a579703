/**
 * Built-in plugin `b24kit.retention`: purges finished jobs, inbox rows and schedule slots past their
 * windows (app/retention.ts), in processes with the scheduler role, once per fire time across
 * processes. Written on the public seam: a service with the app's store.
 */
import { resolveRetention, RetentionRunner } from '../retention.js';
import { defineBuiltinPlugin } from '../plugin.js';
import type { RetentionConfig } from '../settings.js';

export const retentionPlugin = defineBuiltinPlugin({
  name: 'b24kit.retention',
  setup(kit, options: { config: RetentionConfig | undefined; intervalMs: number }) {
    const retention = resolveRetention(options.config);
    if (retention.cron === false) return;
    kit.service('scheduler', (ctx) => {
      const runner = new RetentionRunner({ store: ctx.store, retention, intervalMs: options.intervalMs, nowMs: ctx.nowMs, logger: ctx.log.child({ module: 'retention' }) });
      runner.start();
      return () => runner.stop();
    });
  },
});
