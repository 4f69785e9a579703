/**
 * The web server's logger: pino with every secret-bearing key redacted and request URLs stripped
 * of secret query values. Secrets that reach the server: access and refresh tokens (`auth[…]`,
 * `AUTH_ID`, `REFRESH_ID`), `application_token` (`APPLICATION_TOKEN`), the OAuth `code` and `state`,
 * and our own client_secret. Routes never log bodies; the redaction is the second line of defence.
 */
import { pino, type DestinationStream, type Logger as PinoLogger } from 'pino';

/**
 * Log keys whose values are secrets (also upper-case and camelCase). Not `code` and `state`: in log
 * objects those are our error codes and portal states; as query parameters they are redacted below.
 */
export const SECRET_KEYS: readonly string[] = [
  'access_token',
  'refresh_token',
  'application_token',
  'client_secret',
  'auth_id',
  'refresh_id',
  'auth',
  'accesstoken',
  'refreshtoken',
  'applicationtoken',
  'clientsecret',
  'authorization',
  'cookie',
  'password',
];

/** Query parameters whose values are secrets: the above, plus the OAuth `code` and `state`. */
const SECRET_PARAMS = new Set([...SECRET_KEYS, 'code', 'state']);

function redactPaths(): string[] {
  const paths: string[] = [];
  // pino paths are exact per depth; cover the shapes our objects take (top level, one and two levels down)
  const variants = (key: string): string[] => [...new Set([key, key.toUpperCase()])];
  const camel: Record<string, string> = { accesstoken: 'accessToken', refreshtoken: 'refreshToken', applicationtoken: 'applicationToken', clientsecret: 'clientSecret' };
  for (const key of SECRET_KEYS) {
    for (const name of [...variants(key), ...(camel[key] ? [camel[key]] : [])]) {
      paths.push(name, `*.${name}`, `*.*.${name}`);
    }
  }
  paths.push('req.headers.authorization', 'req.headers.cookie');
  return paths;
}

/** A URL (path + query) with the values of secret query parameters replaced. */
export function redactUrl(url: string): string {
  const index = url.indexOf('?');
  if (index < 0) return url;
  const params = new URLSearchParams(url.slice(index + 1));
  let changed = false;
  for (const key of [...new Set(params.keys())]) {
    const base = key.replace(/\[.*$/, '').toLowerCase();
    const inner = /\[([^\]]*)\]/.exec(key)?.[1]?.toLowerCase();
    if (SECRET_PARAMS.has(base) || (inner !== undefined && SECRET_PARAMS.has(inner))) {
      params.set(key, '[redacted]');
      changed = true;
    }
  }
  return changed ? `${url.slice(0, index)}?${params.toString()}` : url;
}

export interface ServerLoggerOptions {
  /** @defaultValue 'info' */
  level?: string;
  /** Where lines go (tests capture them). @defaultValue stdout */
  destination?: DestinationStream;
  /** @defaultValue 'b24kit' */
  name?: string;
}

/** A pino logger for the process and the web server, with secrets redacted. */
export function createServerLogger(options: ServerLoggerOptions = {}): PinoLogger {
  return pino(
    {
      name: options.name ?? 'b24kit',
      level: options.level ?? 'info',
      redact: { paths: redactPaths(), censor: '[redacted]' },
      serializers: {
        req: (req: { method?: string; url?: string; ip?: string; id?: string }) => ({
          method: req.method,
          url: redactUrl(req.url ?? ''),
          remoteAddress: req.ip,
        }),
        res: (res: { statusCode?: number }) => ({ statusCode: res.statusCode }),
        // messages and codes only: a stack or an error's own fields could carry request data
        err: (err: Error & { code?: unknown }) => ({ type: err.name, message: err.message, code: err.code }),
      },
    },
    options.destination,
  );
}
