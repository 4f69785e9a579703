/**
 * `b24kit portals list|show|remove`: the portal registry from the command line. Tokens are never
 * printed (only PortalInfo, which holds none, is read).
 */
import { InvalidArgumentError, type Command } from 'commander';
import type { PortalInfo, PortalState } from '../store/portals.js';
import { cliConfig, cliRegistry, withStore } from './context.js';

const STATES: readonly PortalState[] = ['active', 'needs_reauth', 'uninstalled'];

function state(value: string): PortalState {
  if (!(STATES as readonly string[]).includes(value)) throw new InvalidArgumentError(`one of ${STATES.join(', ')}`);
  return value as PortalState;
}

function time(ms: number | null): string {
  return ms === null || ms === 0 ? '-' : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()).join('\n');
}

export function registerPortalsCommand(program: Command): void {
  const portals = program.command('portals').description('List, show and remove installed portals (tokens are never printed)');

  portals
    .command('list')
    .description('List portals: member_id, domain, state, token expiry, last refresh')
    .option('--state <state>', `only portals in this state (${STATES.join(', ')}); needs_reauth = must be re-authorized`, state)
    .option('--json', 'print JSON')
    .action(async (options: { state?: PortalState; json?: boolean }) => {
      const config = cliConfig();
      const list = await withStore(config, (store) => cliRegistry(store, config, { secrets: false }).list(options.state ? { state: options.state } : {}));
      if (options.json) return void console.log(JSON.stringify(list, null, 2));
      if (list.length === 0) return void console.log(options.state ? `no portals in state ${options.state}` : 'no portals installed');
      const rows = [['MEMBER_ID', 'DOMAIN', 'STATE', 'STATUS', 'TOKEN EXPIRES', 'LAST REFRESH']];
      for (const p of list) rows.push([p.memberId, p.domain, p.state, p.status, time(p.expiresAtMs), time(p.lastRefreshedAtMs)]);
      console.log(table(rows));
      const reauth = list.filter((p) => p.state === 'needs_reauth').length;
      if (reauth > 0 && !options.state) console.log(`\n${reauth} portal(s) need re-authorization (GET /oauth/start?domain=… on this app)`);
    });

  portals
    .command('show')
    .description('Show one portal (no tokens)')
    .argument('<memberId>', "the portal's member_id")
    .option('--json', 'print JSON')
    .action(async (memberId: string, options: { json?: boolean }) => {
      const config = cliConfig();
      const info = await withStore(config, (store) => cliRegistry(store, config, { secrets: false }).info(memberId));
      if (!info) {
        console.error(`b24kit: no portal ${memberId}`);
        process.exitCode = 1;
        return;
      }
      if (options.json) return void console.log(JSON.stringify(info, null, 2));
      console.log(describe(info));
    });

  portals
    .command('remove')
    .description("Delete everything stored for a portal (its tokens included), as ONAPPUNINSTALL with CLEAN=1 does")
    .argument('<memberId>', "the portal's member_id")
    .action(async (memberId: string) => {
      const config = cliConfig();
      const removed = await withStore(config, (store) => cliRegistry(store, config, { secrets: false }).purge(memberId));
      if (!removed) {
        console.error(`b24kit: no portal ${memberId}`);
        process.exitCode = 1;
        return;
      }
      console.log(`removed portal ${memberId}`);
    });
}

function describe(p: PortalInfo): string {
  const lines: Array<[string, string]> = [
    ['member_id', p.memberId],
    ['domain', p.domain],
    ['state', p.state + (p.needsReauthSinceMs ? ` (since ${time(p.needsReauthSinceMs)})` : '')],
    ['status', p.status],
    ['client_endpoint', p.clientEndpoint],
    ['server_endpoint', p.serverEndpoint],
    ['scope', p.scope.join(',')],
    ['installed by user', p.installedByUserId === null ? '-' : String(p.installedByUserId)],
    ['token expires', time(p.expiresAtMs)],
    ['last refresh', time(p.lastRefreshedAtMs)],
    ['last used', time(p.lastUsedAtMs)],
    ['refresh failures', String(p.refreshFailures)],
    ['version', String(p.version)],
    ['created', time(p.createdAtMs)],
    ['updated', time(p.updatedAtMs)],
  ];
  const width = Math.max(...lines.map(([key]) => key.length));
  return lines.map(([key, value]) => `${key.padEnd(width)}  ${value}`).join('\n');
}
