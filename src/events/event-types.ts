/**
 * Payload types of the documented events, by name: `app.on('ONCRMDEALADD', ctx => ctx.event.data.FIELDS.ID)`
 * compiles with the right type. Names not in the map get the generic `Json`.
 *
 * Every type here is `data` as a handler sees it after the receiver parsed the form (docs/protocol.md §3.3):
 * Bitrix24 POSTs `application/x-www-form-urlencoded`, so every scalar is a STRING, whatever type the
 * doc page names (`integer` IDs arrive as `"6641"`), and an empty array or null leaves no key at
 * all. Sources: the Bitrix24 REST docs (github.com/bitrix24/b24restdocs, published at
 * apidocs.bitrix24.com); each entry names its page.
 *
 * Apps add their own events by declaration merging (docs/app.md): keys are UPPER-CASE, because
 * `EventDataOf` upper-cases the name it is given.
 */
import type { Json } from '../queue/types.js';

/**
 * `data` of the CRM add/update/delete events of deals, contacts, companies and leads: the ID only
 * ("contains a single key FIELDS"; read the entity yourself). Delete events carry the same shape,
 * with the ID of the deleted entity.
 *
 * Offline deliveries (`app.on(name, h, { offline: true })`) hand over the queue record's EVENT_DATA,
 * which the core fills from the same event callback: the same `{ FIELDS: { ID } }`. Unlike the form,
 * EVENT_DATA arrives as JSON (event.offline.get), and the core's callback casts the ID to an integer
 * before it is stored, so a real portal's record may carry `ID: 6641` (read from the core's code, not
 * seen in a capture): the offline delivery (`offlineDelivery`, src/app/) must hand it over as a
 * string for this type to hold.
 */
export interface CrmEntityEventData {
  FIELDS: {
    /** The entity's ID, e.g. `"6641"`. */
    ID: string;
  };
}

/** `data` of ONAPPINSTALL (docs/protocol.md §2.2). */
export interface AppInstallEventData {
  /** The installed version, e.g. `"1"`. */
  VERSION: string;
  ACTIVE: 'Y' | 'N';
  /** `N`: not fully installed (installFinish not called yet). */
  INSTALLED: 'Y' | 'N';
  /** e.g. `"en"`. */
  LANGUAGE_ID: string;
}

/** `data` of ONAPPUPDATE (docs/protocol.md §2.4). */
export interface AppUpdateEventData {
  VERSION: string;
  PREVIOUS_VERSION: string;
  LANGUAGE_ID: string;
}

/** `data` of ONAPPUNINSTALL (docs/protocol.md §2.5). */
export interface AppUninstallEventData {
  LANGUAGE_ID: string;
  /** `"1"`: the user ticked "clear application data" (documented as the integer 1 or 0). */
  CLEAN: '0' | '1';
}

/** `data` of ONAPPPAYMENT (docs/protocol.md §2.6). */
export interface AppPaymentEventData {
  /** The app's code, e.g. `"bitrix.gds_company"`. */
  CODE: string;
  VERSION: string;
  /** Documented as F, D, T or P (the doc's own example shows `"S"`, so not narrowed). */
  STATUS: string;
  /** `Y`: the paid or trial period has expired. */
  PAYMENT_EXPIRED: 'Y' | 'N';
  /** Days left in the paid or trial period, e.g. `"28"`. */
  DAYS: string;
  LANGUAGE_ID: string;
}

/** `data` of ONAPPTEST: what `event.test` was called with, under QUERY. */
export interface AppTestEventData {
  /** The parameters passed to `event.test`; absent when it was called with none. */
  QUERY?: { [key: string]: Json };
  /** Shown in the doc's example, not in a field table. */
  LANGUAGE_ID?: string;
}

/**
 * `data` of ONOFFLINEEVENT: nothing. The ping only says that the offline queue has new records
 * (read them with event.offline.get); the core sends an empty `data`, which the form drops, so the
 * handler sees `null`. Older doc versions showed `{type, event, handler, minTimeout}`: a doc error,
 * corrected by the maintainers (github.com/bitrix-tools/b24-rest-docs/issues/228).
 */
export type OfflineEventPingData = null | Record<string, never>;

/**
 * `data` of each documented event, by its UPPER-CASE name. Extend it for other events by declaration
 * merging (see the file comment).
 */
export interface EventPayloads {
  /** A deal was created. https://apidocs.bitrix24.com/api-reference/crm/deals/events/on-crm-deal-add.html */
  ONCRMDEALADD: CrmEntityEventData;
  /** A deal was updated. https://apidocs.bitrix24.com/api-reference/crm/deals/events/on-crm-deal-update.html */
  ONCRMDEALUPDATE: CrmEntityEventData;
  /** A deal was deleted. https://apidocs.bitrix24.com/api-reference/crm/deals/events/on-crm-deal-delete.html */
  ONCRMDEALDELETE: CrmEntityEventData;
  /** A contact was created. https://apidocs.bitrix24.com/api-reference/crm/contacts/events/on-crm-contact-add.html */
  ONCRMCONTACTADD: CrmEntityEventData;
  /** A contact was updated. https://apidocs.bitrix24.com/api-reference/crm/contacts/events/on-crm-contact-update.html */
  ONCRMCONTACTUPDATE: CrmEntityEventData;
  /** A contact was deleted. https://apidocs.bitrix24.com/api-reference/crm/contacts/events/on-crm-contact-delete.html */
  ONCRMCONTACTDELETE: CrmEntityEventData;
  /** A company was created. https://apidocs.bitrix24.com/api-reference/crm/companies/events/on-crm-company-add.html */
  ONCRMCOMPANYADD: CrmEntityEventData;
  /** A company was updated. https://apidocs.bitrix24.com/api-reference/crm/companies/events/on-crm-company-update.html */
  ONCRMCOMPANYUPDATE: CrmEntityEventData;
  /** A company was deleted. https://apidocs.bitrix24.com/api-reference/crm/companies/events/on-crm-company-delete.html */
  ONCRMCOMPANYDELETE: CrmEntityEventData;
  /** A lead was created. https://apidocs.bitrix24.com/api-reference/crm/leads/events/on-crm-lead-add.html */
  ONCRMLEADADD: CrmEntityEventData;
  /** A lead was updated. https://apidocs.bitrix24.com/api-reference/crm/leads/events/on-crm-lead-update.html */
  ONCRMLEADUPDATE: CrmEntityEventData;
  /** A lead was deleted. https://apidocs.bitrix24.com/api-reference/crm/leads/events/on-crm-lead-delete.html */
  ONCRMLEADDELETE: CrmEntityEventData;

  /** Handled by b24kit's install route, not passed to app.on. https://apidocs.bitrix24.com/api-reference/common/events/on-app-install.html */
  ONAPPINSTALL: AppInstallEventData;
  /** Handled by b24kit's webhook route, not passed to app.on. https://apidocs.bitrix24.com/api-reference/common/events/on-app-update.html */
  ONAPPUPDATE: AppUpdateEventData;
  /** Handled by b24kit's webhook route, not passed to app.on. https://apidocs.bitrix24.com/api-reference/common/events/on-app-uninstall.html */
  ONAPPUNINSTALL: AppUninstallEventData;
  /** The doc's auth example lacks application_token, which the receiver requires. https://apidocs.bitrix24.com/api-reference/common/events/on-app-payment.html */
  ONAPPPAYMENT: AppPaymentEventData;
  /** The test event `event.test` sends. https://apidocs.bitrix24.com/api-reference/events/test-handler.html */
  ONAPPTEST: AppTestEventData;

  /** The offline queue has new records. https://apidocs.bitrix24.com/api-reference/events/on-offline-event.html */
  ONOFFLINEEVENT: OfflineEventPingData;
}

/** The `data` type of event `E` (case-insensitive), or `Json` for an event not in the map. */
export type EventDataOf<E extends string> = Uppercase<E> extends keyof EventPayloads ? EventPayloads[Uppercase<E>] : Json;
