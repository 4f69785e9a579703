/**
 * Configuration from the environment, validated once at start. Every problem is reported at once,
 * by variable name; values of secret variables never appear in a message.
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { B24Error } from '../errors.js';
import { LOG_FORMATS, type LogFormat } from '../log/format.js';
import { DEFAULT_OAUTH_URL } from '../oauth/oauth-server.js';
import { parseSecretKey } from '../store/crypto.js';
import { DEFAULT_DATABASE_URL, databaseLocation, type DatabaseLocation } from '../store/database-url.js';
import { isPortalDomainPattern } from '../validators.js';

/** Where the store lives: a SQLite file or a PostgreSQL URL. */
export type DatabaseConfig = DatabaseLocation;

export interface B24kitConfig {
  /** From `DATABASE_URL`: a file path (SQLite) or `postgres://…`. @defaultValue './data/b24kit.sqlite' */
  database: DatabaseConfig;
  /** `DATABASE_URL` as given (or the default): what `openStore({ url })` takes. */
  databaseUrl: string;
  /**
   * The 32-byte key from `B24KIT_SECRET_KEY` (64 hex characters or base64). Undefined in demo mode:
   * then a key is generated into `dataDir` (see resolveSecretKey).
   */
  secretKey: Buffer | undefined;
  /**
   * `B24KIT_DATA_DIR`: where the generated demo secret key lives. The default SQLite file does not
   * follow it (it stays at `./data/b24kit.sqlite`, the store's default): moving the default with the
   * folder would open an empty database for a deployment that already set it. @defaultValue './data'
   */
  dataDir: string;
  /** `B24_CLIENT_ID`; unset = demo mode (an in-process emulator). */
  clientId: string | undefined;
  /** `B24_CLIENT_SECRET`; required with B24_CLIENT_ID. Sent only to the OAuth server. */
  clientSecret: string | undefined;
  /** `B24_APP_URL`: the public base URL of this app (install and event handler URLs). Required with B24_CLIENT_ID. */
  appUrl: string | undefined;
  /**
   * `B24_OAUTH_URL`, without a trailing slash. @defaultValue 'https://oauth.bitrix.info'
   * Token requests go to the OAuth host of the portal's server_endpoint unless `oauthUrlOverride` is set.
   */
  oauthUrl: string;
  /** True when B24_OAUTH_URL was set explicitly: then it wins over the portal's server_endpoint. */
  oauthUrlOverride: boolean;
  /** `PORT`. @defaultValue 3000 */
  port: number;
  /**
   * `HOST`: the address the web server listens on, an IP address or a hostname (`b24kit start
   * --host` wins over it). Undefined = the mode's default: '127.0.0.1' in demo mode (the emulator's
   * portal is local), '0.0.0.0' with credentials (Bitrix24 must reach the app).
   */
  host: string | undefined;
  /**
   * `B24KIT_PORTAL_DOMAINS` (comma-separated): hosts `/oauth/start` may send a browser to besides
   * Bitrix24 cloud portals and the portals installed here — exact hosts, or `*.example.com` for any
   * subdomain (on-premise portals; the emulator's `*.bitrix24.test` in development). @defaultValue []
   */
  portalDomains: string[];
  /** `LOG_LEVEL`. @defaultValue 'info' */
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /**
   * `B24KIT_LOG_FORMAT`: `pretty` (readable lines) or `json` (one JSON object per line).
   * Undefined = by the stream: pretty when it is a terminal, JSON otherwise (src/log/format.ts).
   */
  logFormat: LogFormat | undefined;
  /**
   * `B24KIT_DEMO_EMULATOR_PORT`: where demo mode's built-in emulator listens; 0 = any free port.
   * When the port is taken the emulator takes a free one, and a warning says so. @defaultValue 3999
   */
  demoEmulatorPort: number;
  /** `B24KIT_ADMIN_TOKEN`: the bearer token of /admin and the admin API; unset = admin disabled. */
  adminToken: string | undefined;
  /** True when B24_CLIENT_ID is unset. */
  demo: boolean;
}

/** Variables whose values must never be echoed. */
const SECRET_VARIABLES = new Set(['B24_CLIENT_SECRET', 'B24KIT_SECRET_KEY', 'B24KIT_ADMIN_TOKEN', 'DATABASE_URL']);

const optionalText = z
  .string()
  .transform((value) => value.trim())
  .optional()
  .transform((value) => (value === '' ? undefined : value));

/** RFC 1123: dot-separated labels of letters, digits and inner hyphens, 63 characters each, 253 in all. */
const HOSTNAME = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i;

/** An IP address, or a hostname whose last label is not all digits (`1.2.3.999` is a bad IP, not a name). */
function isHost(value: string): boolean {
  return isIP(value) !== 0 || (HOSTNAME.test(value) && !/(?:^|\.)\d+$/.test(value));
}

const portNumber = optionalText
  .refine((value) => value === undefined || (/^\d{1,5}$/.test(value) && Number(value) <= 65535), { error: 'must be a port number (0–65535)' })
  .transform((value) => (value === undefined ? undefined : Number(value)));

/** The demo emulator's port: apart from the app's 3000 and from `b24kit emulator`'s 4100. */
export const DEFAULT_DEMO_EMULATOR_PORT = 3999;

const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' });

const envSchema = z.object({
  DATABASE_URL: optionalText,
  B24KIT_SECRET_KEY: optionalText,
  B24KIT_DATA_DIR: optionalText,
  B24_CLIENT_ID: optionalText,
  B24_CLIENT_SECRET: optionalText,
  B24_APP_URL: optionalText.pipe(httpUrl.optional()),
  B24_OAUTH_URL: optionalText.pipe(httpUrl.optional()),
  PORT: portNumber,
  B24KIT_DEMO_EMULATOR_PORT: portNumber,
  HOST: optionalText.refine((value) => value === undefined || isHost(value), { error: 'must be an IP address or a hostname' }),
  B24KIT_PORTAL_DOMAINS: optionalText.refine(
    (value) => value === undefined || value.split(',').every((entry) => isPortalDomainPattern(entry.trim())),
    { error: 'must be comma-separated hosts (acme.example.com, *.example.com, optionally with :port)' },
  ),
  LOG_LEVEL: optionalText.pipe(
    z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { error: 'must be one of fatal, error, warn, info, debug, trace, silent' }).optional(),
  ),
  B24KIT_LOG_FORMAT: optionalText.pipe(z.enum(LOG_FORMATS, { error: `must be one of ${LOG_FORMATS.join(', ')}` }).optional()),
  B24KIT_ADMIN_TOKEN: optionalText.pipe(z.string().min(16, { error: 'must be at least 16 characters' }).optional()),
});

/**
 * Reads and validates the configuration. Throws B24_ERR_CONFIG listing every invalid variable by
 * name (never its value when it is a secret).
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): B24kitConfig {
  const problems: string[] = [];
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const name = String(issue.path[0] ?? 'environment');
      problems.push(SECRET_VARIABLES.has(name) ? `${name} is invalid` : `${name} ${issue.message}`);
    }
    throw configError(problems);
  }
  const vars = parsed.data;

  let secretKey: Buffer | undefined;
  if (vars.B24KIT_SECRET_KEY !== undefined) {
    try {
      secretKey = parseSecretKey(vars.B24KIT_SECRET_KEY);
    } catch {
      problems.push('B24KIT_SECRET_KEY must be 32 bytes written as 64 hex characters or as base64 (44 characters)');
    }
  }

  const databaseUrl = vars.DATABASE_URL ?? DEFAULT_DATABASE_URL;
  const database = databaseLocation(databaseUrl);
  if (database.kind === 'postgres') {
    try {
      new URL(databaseUrl);
    } catch {
      problems.push('DATABASE_URL is not a valid postgres:// URL');
    }
  } else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(databaseUrl)) {
    problems.push('DATABASE_URL must be a file path (SQLite) or a postgres:// URL');
  }

  const demo = vars.B24_CLIENT_ID === undefined;
  if (!demo && vars.B24_CLIENT_SECRET === undefined) problems.push('B24_CLIENT_SECRET is required when B24_CLIENT_ID is set');
  if (demo && vars.B24_CLIENT_SECRET !== undefined) problems.push('B24_CLIENT_ID is required when B24_CLIENT_SECRET is set');
  if (!demo && vars.B24_APP_URL === undefined) problems.push('B24_APP_URL is required when B24_CLIENT_ID is set (the public base URL of this app)');
  // tokens of real portals must not be sealed with a key that lives next to the data it protects
  if (!demo && vars.B24KIT_SECRET_KEY === undefined) {
    problems.push('B24KIT_SECRET_KEY is required when B24_CLIENT_ID is set (32 bytes as 64 hex characters or base64; e.g. `openssl rand -base64 32`)');
  }

  if (problems.length > 0) throw configError(problems);
  return {
    database,
    databaseUrl,
    secretKey,
    dataDir: vars.B24KIT_DATA_DIR ?? './data',
    clientId: vars.B24_CLIENT_ID,
    clientSecret: vars.B24_CLIENT_SECRET,
    appUrl: vars.B24_APP_URL?.replace(/\/+$/, ''),
    oauthUrl: (vars.B24_OAUTH_URL ?? DEFAULT_OAUTH_URL).replace(/\/+$/, ''),
    oauthUrlOverride: vars.B24_OAUTH_URL !== undefined,
    port: vars.PORT ?? 3000,
    host: vars.HOST,
    portalDomains: vars.B24KIT_PORTAL_DOMAINS?.split(',').map((entry) => entry.trim().toLowerCase()) ?? [],
    logLevel: vars.LOG_LEVEL ?? 'info',
    logFormat: vars.B24KIT_LOG_FORMAT,
    demoEmulatorPort: vars.B24KIT_DEMO_EMULATOR_PORT ?? DEFAULT_DEMO_EMULATOR_PORT,
    adminToken: vars.B24KIT_ADMIN_TOKEN,
    demo,
  };
}

function configError(problems: string[]): B24Error {
  return new B24Error('B24_ERR_CONFIG', `Invalid configuration: ${problems.join('; ')}`);
}
