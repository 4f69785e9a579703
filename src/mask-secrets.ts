/**
 * Masks values under secret-looking keys, at any depth: what the CLI (`b24kit jobs`) and the
 * admin dashboard show of job payloads and results. The spellings integrations and Bitrix24 use:
 * tokens, secrets, passwords, API keys (`apiKey`, `api_key`), Bitrix24's `auth` object and its
 * `AUTH_ID`/`REFRESH_ID`, `authorization`, credentials, cookies, sessions and signatures. Narrower
 * than the log's rule (src/server/logging.ts), which also hides `author` or `dedupeKey`: an
 * operator reading a payload needs its ordinary fields.
 */
const SECRET_KEY = /token|secret|passw|pwd|api[-_]?key|credential|cookie|session|signature|^auth(?:[-_]?id|orization)?$|refresh[-_]?id/i;

export function maskSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(maskSecrets);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, SECRET_KEY.test(key) ? '[redacted]' : maskSecrets(inner)]));
  }
  return value;
}
