/**
 * The extension seam: a plugin gets the same verbs as the app (`on`, `job`, `schedule`, `robot`)
 * plus HTTP routes, lifecycle hooks, per-portal settings, purges of its own tables and long-running
 * services bound to a process role. The app registers plugins with `app.register(plugin, options)`;
 * the framework's own parts (offline events, retention, keep-alive, metrics, demo) are plugins too.
 *
 * ```ts
 * export const shop = definePlugin({
 *   name: 'shop',
 *   settings: { schema: z.object({ signingSecret: z.string().min(16) }), secrets: ['signingSecret'] },
 *   setup(kit, options: { jobName: string }) {
 *     kit.route('POST', '/api/v1/:memberId/orders', async (ctx) => ctx.ingest('order', String(ctx.body.id), ctx.body), {
 *       auth: auth.hmac({ header: 'x-signature', secret: 'signingSecret' }),
 *     });
 *   },
 * });
 * ```
 */
import { B24Error } from '../errors.js';
import type { AppKit, JobMap, JobTypes, SettingsDeclaration } from './kit.js';

/** A plugin: a name (unique per app, the namespace of its settings) and what it declares. */
export interface B24Plugin<O = void, S extends Record<string, unknown> = Record<string, unknown>, J extends JobTypes = JobMap> {
  readonly name: string;
  /** Per-portal settings of this plugin: `ctx.settings` in its handlers, `app.settings(memberId, name)` outside. */
  readonly settings?: SettingsDeclaration<S> | undefined;
  setup(kit: AppKit<S, J>, options: O): void;
}

/** Names of plugins: lower-case letters, digits, `-`, `_`, `.`; `b24kit.` is the framework's. */
export const PLUGIN_NAME = /^[a-z][a-z0-9._-]{0,63}$/;

/**
 * Declares a plugin (an identity function that checks the name and keeps the types: `S` is inferred
 * from the settings schema, `O` from `setup`'s options, `J` from the `kit` parameter's annotation,
 * e.g. `setup(kit: AppKit<Settings, { 'order.sync': Order }>, options: Options)`).
 */
export function definePlugin<O = void, S extends Record<string, unknown> = Record<string, unknown>, J extends JobTypes = JobMap>(plugin: {
  name: string;
  settings?: SettingsDeclaration<S>;
  setup(kit: AppKit<S, J>, options: O): void;
}): B24Plugin<O, S, J> {
  checkPlugin(plugin);
  if (plugin.name.startsWith(BUILTIN_PREFIX)) throw new B24Error('B24_ERR_APP_DEFINITION', `plugin names starting with ${BUILTIN_PREFIX} are the framework's`);
  return plugin;
}

/** Plugins whose names start with this are the framework's built-ins (src/app/builtins/). */
export const BUILTIN_PREFIX = 'b24kit.';
const builtins = new WeakSet<object>();

/** The framework's own plugins: `definePlugin` with a reserved name (builtins/). Not exported from the package. */
export const defineBuiltinPlugin: typeof definePlugin = (plugin) => {
  checkPlugin(plugin);
  if (!plugin.name.startsWith(BUILTIN_PREFIX)) throw new B24Error('B24_ERR_APP_DEFINITION', `a built-in plugin's name starts with ${BUILTIN_PREFIX}`);
  builtins.add(plugin);
  return plugin;
};

/** Whether `app.register` may take this plugin: a reserved name only for the framework's own. */
export function mayRegister(plugin: { name: string }): boolean {
  return !plugin.name.startsWith(BUILTIN_PREFIX) || builtins.has(plugin);
}

function checkPlugin(plugin: { name: unknown; setup: unknown }): asserts plugin is { name: string; setup: (...args: never[]) => void } {
  if (typeof plugin?.name !== 'string' || !PLUGIN_NAME.test(plugin.name)) {
    throw new B24Error('B24_ERR_APP_DEFINITION', `plugin name "${String(plugin?.name)}" is malformed ([a-z][a-z0-9._-], at most 64)`);
  }
  if (typeof plugin.setup !== 'function') throw new B24Error('B24_ERR_APP_DEFINITION', `plugin ${plugin.name} has no setup function`);
}
