import type { Command } from 'commander';
import { cliConfig, withStore } from './context.js';

export function registerMigrateCommand(program: Command): void {
  program
    .command('migrate')
    .description('Apply pending store migrations (DATABASE_URL: a SQLite file path or postgres://…); `start` runs them too')
    .action(async () => {
      const config = cliConfig();
      const report = await withStore(config, (store) => store.migrate(), { migrate: false });
      for (const migration of report.applied) console.log(`applied ${String(migration.version).padStart(4, '0')}_${migration.name}`);
      console.log(report.applied.length === 0 ? `schema is up to date (version ${report.version})` : `schema version ${report.version}`);
    });
}
