import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { startEmulator } from '../emulator/server.js';
import { REALISTIC_COST } from '../emulator/options.js';
import { DEFAULT_MAILCHIMP_API_KEY } from '../emulator/mailchimp/mailchimp-emulator.js';
import { startMailchimpEmulator, type RunningMailchimpEmulator } from '../emulator/mailchimp/server.js';

function port(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > 65535) throw new InvalidArgumentError('a port number 0-65535');
  return parsed;
}

function hostNames(value: string): string[] {
  return value.split(',').map((name) => name.trim().toLowerCase()).filter(Boolean);
}

export function registerEmulatorCommand(program: Command): void {
  program
    .command('emulator')
    .description('Run the Bitrix24 emulator: OAuth server, portals and the /_emulator control API')
    .option('--port <port>', 'port to listen on', port, 4100)
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--client-id <id>', "the registered app's client_id", 'local.b24kit.demo')
    .option('--client-secret <secret>', "the registered app's client_secret", 'demo-secret')
    .option('--public-url <url>', 'base URL the emulator is reached at, if not the listening address')
    .option('--control-host <names>', 'comma-separated dotted host names the control API also answers at (IP addresses, localhost and names without a dot always work)', hostNames)
    .option('--realistic', 'use the realistic cost model of the benchmarks (30 ms writes, 20 ms reads)')
    .option('--mailchimp-port <port>', 'also run the Mailchimp emulator (Marketing API v3 and /_emulator/mailchimp) on this port', port)
    .option('--mailchimp-key <key>', 'the API key the Mailchimp emulator accepts', DEFAULT_MAILCHIMP_API_KEY)
    .action(async (options: { port: number; host: string; clientId: string; clientSecret: string; publicUrl?: string; controlHost?: string[]; realistic?: boolean; mailchimpPort?: number; mailchimpKey: string }) => {
      const running = await startEmulator({
        port: options.port,
        host: options.host,
        clientId: options.clientId,
        clientSecret: options.clientSecret,
        ...(options.publicUrl ? { publicUrl: options.publicUrl } : {}),
        ...(options.controlHost ? { controlHosts: options.controlHost } : {}),
        ...(options.realistic ? { cost: REALISTIC_COST } : {}),
      });
      console.log(`Bitrix24 emulator listening on ${running.url}`);
      console.log(`  OAuth server: ${running.url}/oauth/token/   control API: ${running.url}/_emulator/portals`);
      let mailchimp: RunningMailchimpEmulator | undefined;
      if (options.mailchimpPort !== undefined) {
        // one clock: `POST /_emulator/clock` on the Bitrix24 emulator moves Mailchimp's last_changed too
        mailchimp = await startMailchimpEmulator({ port: options.mailchimpPort, host: options.host, apiKeys: [options.mailchimpKey], clock: running.emulator.clock, ...(options.controlHost ? { controlHosts: options.controlHost } : {}) });
        console.log(`Mailchimp emulator listening on ${mailchimp.url}`);
        console.log(`  Marketing API: ${mailchimp.url}/3.0   control API: ${mailchimp.url}/_emulator/mailchimp/lists`);
      }
      const stop = async (): Promise<void> => {
        await mailchimp?.close();
        await running.close();
        process.exit(0);
      };
      process.once('SIGINT', () => void stop());
      process.once('SIGTERM', () => void stop());
    });
}
