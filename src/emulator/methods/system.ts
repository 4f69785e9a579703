import type { MethodRegistry } from './registry.js';
import { restErrors } from '../rest-error.js';

/** user.admin, profile, app.info, scope, methods (docs/protocol.md §2.7); user.current is in ../users/methods.ts. */
export function registerSystemMethods(registry: MethodRegistry): void {
  // `true` for a portal administrator (b24restdocs api-reference/common/users/user-admin.md: scope basic, any user may call it)
  registry.define('user.admin', {
    scope: 'basic',
    handler: ({ portal, auth }) => ({ result: portal.users.get(auth.userId)?.ADMIN === true }),
  });

  registry.define('profile', {
    scope: 'basic',
    handler: ({ portal, auth }) => {
      const user = portal.users.get(auth.userId);
      if (!user) throw restErrors.notFound();
      return {
        result: { ID: String(user.ID), ADMIN: user.ADMIN, NAME: user.NAME, LAST_NAME: user.LAST_NAME, PERSONAL_GENDER: '', TIME_ZONE: user.TIME_ZONE },
      };
    },
  });

  registry.define('app.info', {
    scope: 'basic',
    handler: ({ portal, auth, emulator }) => {
      const licenseFamily = portal.licenseFamily;
      // an incoming webhook gets its scope and the license (CORE rest_provider.php `appInfo`, password branch)
      if (auth.kind === 'webhook') return { result: { SCOPE: auth.scope, LICENSE: `en_${licenseFamily}` } };
      if (!portal.app) throw restErrors.applicationContextRequired();
      return {
        result: {
          ID: 1,
          CODE: emulator.options.clientId,
          VERSION: portal.app.version,
          STATUS: portal.app.status,
          INSTALLED: true,
          PAYMENT_EXPIRED: 'N',
          DAYS: null,
          LANGUAGE_ID: 'en',
          LICENSE: `en_${licenseFamily}`,
          LICENSE_TYPE: licenseFamily,
          LICENSE_FAMILY: licenseFamily,
        },
      };
    },
  });

  registry.define('scope', {
    scope: 'basic',
    handler: ({ auth, params, emulator }) => {
      // "the complete list of permissions" (b24restdocs api-reference/common/system/scope.md): here, every
      // scope a served method needs, so it grows with the registry
      if (params.full === true || params.full === 'true' || params.full === '1') {
        return { result: emulator.methods.scopes() };
      }
      return { result: auth.scope };
    },
  });

  registry.define('methods', {
    scope: 'basic',
    handler: ({ emulator }) => ({ result: emulator.methods.names() }),
  });

  registry.define('server.time', {
    scope: 'basic',
    handler: ({ nowMs }) => ({ result: new Date(nowMs).toISOString().replace(/\.\d{3}Z$/, '+00:00') }),
  });
}

