import type { MethodRegistry } from './registry.js';
import { restErrors } from '../rest-error.js';

/** user.current, user.admin, profile, app.info, scope, methods (protocol §2.7). */
export function registerSystemMethods(registry: MethodRegistry): void {
  registry.define('user.current', {
    scope: 'user_brief',
    handler: ({ portal, auth }) => {
      const user = portal.users.get(auth.userId);
      if (!user) throw restErrors.notFound();
      return {
        result: {
          ID: String(user.ID),
          ACTIVE: true,
          NAME: user.NAME,
          LAST_NAME: user.LAST_NAME,
          EMAIL: user.EMAIL,
          TIME_ZONE: user.TIME_ZONE,
          IS_ONLINE: 'N',
          USER_TYPE: 'employee',
        },
      };
    },
  });

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
    handler: ({ auth, params }) => {
      if (params.full === true || params.full === 'true' || params.full === '1') {
        return { result: ['basic', 'crm', 'bizproc', 'user', 'user_brief', 'placement'] };
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

