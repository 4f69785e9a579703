/**
 * The chaos run's scheduler process: the scheduler role alone, through the public API
 * (`app.start({ web: false, worker: false, scheduler: true })`); `b24kit worker` would run jobs too.
 * Stops on SIGTERM like the CLI's processes.
 */
import app from './app.js';

await app.start({ web: false, worker: false, scheduler: true });
const stop = (): void => {
  void app.stop().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
