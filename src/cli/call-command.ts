/**
 * `b24kit call <memberId> <method> [json-params]`: one REST call with a stored portal's tokens
 * (refreshed if needed, single-flight with every other process). Prints the answer as JSON.
 */
import type { Command } from 'commander';
import { B24Error } from '../errors.js';
import { cliConfig, cliLogger, cliPortalRuntime, describeError, withStore } from './context.js';

function params(text: string | undefined): Record<string, unknown> {
  if (text === undefined || text.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new B24Error('B24_ERR_INVALID_ARGUMENT', 'json-params is not valid JSON');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new B24Error('B24_ERR_INVALID_ARGUMENT', 'json-params must be a JSON object');
  return value as Record<string, unknown>;
}

export function registerCallCommand(program: Command): void {
  program
    .command('call')
    .description("Call a REST method on an installed portal with its stored tokens and print the answer as JSON")
    .argument('<memberId>', "the portal's member_id (see `b24kit portals list`)")
    .argument('<method>', 'the REST method, e.g. user.current or crm.deal.list')
    .argument('[json-params]', 'parameters as a JSON object, e.g. \'{"filter":{"STAGE_ID":"WON"}}\'')
    .action(async (memberId: string, method: string, json: string | undefined) => {
      try {
        await call(memberId, method, json);
      } catch (error) {
        // the stable code first: scripts match on it
        console.error(`b24kit: ${describeError(error)}`);
        process.exitCode = 1;
      }
    });
}

async function call(memberId: string, method: string, json: string | undefined): Promise<void> {
  const input = params(json);
  const config = cliConfig();
  const logger = cliLogger(config);
  await withStore(config, async (store) => {
    const runtime = cliPortalRuntime(config, store, logger);
    if (!(await runtime.portals.info(memberId))) throw new B24Error('B24_ERR_PORTAL_NOT_FOUND', `no portal ${memberId}`, { memberId });
    const client = runtime.client(memberId, { deadlineMs: 60_000 });
    try {
      const answer = await client.call(method, input);
      console.log(JSON.stringify({ result: answer.result, ...(answer.total !== undefined ? { total: answer.total } : {}), ...(answer.next !== undefined ? { next: answer.next } : {}) }, null, 2));
    } finally {
      await client.close();
    }
  });
}
