/**
 * What the CLI commands share: configuration, the store, the registry, a logger on stderr (stdout
 * carries the command's output). Secrets are opened only by commands that need them.
 */
import { DEMO_CLIENT_ID, DEMO_CLIENT_SECRET } from '../app/builtins/demo.js';
import { createPortalRuntime } from '../app/portal-runtime.js';
import { loadConfig, type B24kitConfig } from '../config/index.js';
import { B24Error } from '../errors.js';
import { logDestination } from '../log/format.js';
import { createServerLogger } from '../server/logging.js';
import { createSecretBox, resolveSecretKey, type SecretBox } from '../store/crypto.js';
import { openStore } from '../store/index.js';
import { PortalRegistry } from '../store/portals.js';
import type { Store } from '../store/types.js';

export function cliConfig(): B24kitConfig {
  return loadConfig(process.env);
}

/** A logger for CLI commands: stderr, warnings and up unless LOG_LEVEL says otherwise. */
export function cliLogger(config: Pick<B24kitConfig, 'logLevel' | 'logFormat'>, level?: string) {
  return createServerLogger({
    level: level ?? (process.env.LOG_LEVEL ? config.logLevel : 'warn'),
    destination: logDestination(config.logFormat, process.stderr),
  });
}

async function cliStore(config: B24kitConfig, options: { migrate?: boolean } = {}): Promise<Store> {
  return openStore({ url: config.databaseUrl, migrate: options.migrate ?? true });
}

/** A SecretBox for commands that never read secrets (list, show, remove): any use is a bug. */
const NO_SECRETS: SecretBox = {
  seal: () => {
    throw new B24Error('B24_ERR_SECRET_KEY', 'this command does not handle secrets');
  },
  open: () => {
    throw new B24Error('B24_ERR_SECRET_KEY', 'this command does not handle secrets');
  },
};

export function cliRegistry(store: Store, config: B24kitConfig, options: { secrets: boolean }): PortalRegistry {
  const secrets = options.secrets ? createSecretBox(resolveSecretKey({ key: config.secretKey, dataDir: config.dataDir })) : NO_SECRETS;
  return new PortalRegistry({ store, secrets });
}

/** The portals' runtime (registry, tokens, REST clients) over `store`, with the demo app's credentials when none are configured. */
export function cliPortalRuntime(config: B24kitConfig, store: Store, logger: ReturnType<typeof cliLogger>): ReturnType<typeof createPortalRuntime> {
  return createPortalRuntime({
    store,
    secrets: createSecretBox(resolveSecretKey({ key: config.secretKey, dataDir: config.dataDir })),
    clientId: config.clientId ?? DEMO_CLIENT_ID,
    clientSecret: config.clientSecret ?? DEMO_CLIENT_SECRET,
    oauthUrl: config.oauthUrl,
    oauthUrlOverride: config.oauthUrlOverride,
    logger,
  });
}

/** Runs `fn` with the store open, closing it afterwards. */
export async function withStore<T>(config: B24kitConfig, fn: (store: Store) => Promise<T>, options: { migrate?: boolean } = {}): Promise<T> {
  const store = await cliStore(config, options);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/** One line for a failed command: the stable code and the message, never a stack. */
export function describeError(error: unknown): string {
  if (error instanceof B24Error) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}
