import { problems, type MailchimpProblem } from './problem.js';

/**
 * HTTP basic auth with any username and the API key as the password
 * (https://mailchimp.com/developer/marketing/docs/fundamentals/). The key's `-dc`
 * suffix picks the real host (`us21.api.mailchimp.com`); the emulator serves every dc on one URL.
 * Returns the key, or the 401 problem to answer with.
 */
export function apiKeyFrom(header: string | undefined, validKeys: ReadonlySet<string>): { key: string } | { problem: MailchimpProblem } {
  const match = header?.match(/^Basic\s+(\S+)$/i);
  if (!match?.[1]) return { problem: problems.apiKeyMissing() };
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const key = colon >= 0 ? decoded.slice(colon + 1) : '';
  if (!validKeys.has(key)) return { problem: problems.apiKeyInvalid() };
  return { key };
}

/** The data center of a key (`…-us21` → `us21`), or undefined for a key without one. */
export function dataCenterOf(key: string): string | undefined {
  return /-([a-z]+\d+)$/.exec(key)?.[1];
}
