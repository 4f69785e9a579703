/**
 * The CRM side of the contacts sync: a legacy contact (`crm.contact.get` / `.list`) read into the
 * synced fields, and the fields written back (`crm.contact.update` / `.add`)
 * (https://apidocs.bitrix24.com/api-reference/crm/contacts/crm-contact-update.html; multi-field
 * items: https://apidocs.bitrix24.com/api-reference/crm/data-types.html#crm_multifield — an item
 * without ID is added, with ID changed, `DELETE: 'Y'` removes it).
 *
 * The address is the contact's first EMAIL item (lower-cased), the phone its first PHONE item.
 * The unsubscribe mark is a boolean user field, created at first run with
 * `crm.contact.userfield.add` (https://apidocs.bitrix24.com/api-reference/crm/contacts/userfield/crm-contact-userfield-add.html).
 */
import type { B24Client } from '../../index.js';
import type { SyncedContact } from './fields.js';

/** The user field's FIELD_NAME without the `UF_CRM_` prefix the portal adds. @defaultValue the plugin's */
export const DEFAULT_UNSUBSCRIBED_FIELD = 'UF_CRM_B24KIT_UNSUBSCRIBED';

interface MultiItem {
  ID?: string | number;
  VALUE?: string;
}

export interface CrmContactRaw {
  ID: string | number;
  NAME?: string | null;
  LAST_NAME?: string | null;
  EMAIL?: MultiItem[];
  PHONE?: MultiItem[];
  DATE_MODIFY?: string;
  [field: string]: unknown;
}

/** A contact as read: its synced view (none without an address), its time, its phone item. */
export interface CrmView {
  contactId: number;
  contact: SyncedContact | undefined;
  /** DATE_MODIFY, epoch ms. */
  atMs: number;
  phoneItemId: string | undefined;
  /** The EMAIL item the address is read from. */
  emailItemId: string | undefined;
}

export function selectFields(unsubscribedField: string): string[] {
  return ['ID', 'NAME', 'LAST_NAME', 'EMAIL', 'PHONE', 'DATE_MODIFY', unsubscribedField];
}

function truthy(value: unknown): boolean {
  return value === true || value === 1 || value === '1' || value === 'Y' || value === 'true';
}

export function readCrmContact(raw: CrmContactRaw, unsubscribedField: string): CrmView {
  const emailItem = raw.EMAIL?.find((item) => typeof item.VALUE === 'string' && item.VALUE.trim() !== '');
  const email = emailItem?.VALUE?.trim().toLowerCase();
  const phoneItem = raw.PHONE?.find((item) => typeof item.VALUE === 'string' && item.VALUE !== '');
  const atMs = raw.DATE_MODIFY ? Date.parse(raw.DATE_MODIFY) : 0;
  return {
    contactId: Number(raw.ID),
    contact: email
      ? {
          email,
          firstName: raw.NAME ?? '',
          lastName: raw.LAST_NAME ?? '',
          phone: phoneItem?.VALUE ?? '',
          unsubscribed: truthy(raw[unsubscribedField]),
        }
      : undefined,
    atMs: Number.isNaN(atMs) ? 0 : atMs,
    phoneItemId: phoneItem?.ID !== undefined ? String(phoneItem.ID) : undefined,
    emailItemId: emailItem?.ID !== undefined ? String(emailItem.ID) : undefined,
  };
}

/** `fields` of `crm.contact.update` that turn the CRM's view into `target` (only what differs). */
export function updateFields(current: SyncedContact, phoneItemId: string | undefined, target: SyncedContact, unsubscribedField: string): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  if (current.firstName !== target.firstName) fields.NAME = target.firstName;
  if (current.lastName !== target.lastName) fields.LAST_NAME = target.lastName;
  if (current.phone !== target.phone) {
    if (phoneItemId !== undefined) fields.PHONE = [target.phone === '' ? { ID: phoneItemId, DELETE: 'Y' } : { ID: phoneItemId, VALUE: target.phone }];
    else if (target.phone !== '') fields.PHONE = [{ VALUE: target.phone, VALUE_TYPE: 'WORK' }];
  }
  if (current.unsubscribed !== target.unsubscribed) fields[unsubscribedField] = target.unsubscribed ? 'Y' : 'N';
  return fields;
}

/** `fields` of `crm.contact.add` for a member new to the CRM. */
export function addFields(target: SyncedContact, unsubscribedField: string): Record<string, unknown> {
  return {
    NAME: target.firstName,
    LAST_NAME: target.lastName,
    EMAIL: [{ VALUE: target.email, VALUE_TYPE: 'WORK' }],
    ...(target.phone !== '' ? { PHONE: [{ VALUE: target.phone, VALUE_TYPE: 'WORK' }] } : {}),
    [unsubscribedField]: target.unsubscribed ? 'Y' : 'N',
  };
}

/**
 * Creates the boolean user field unless the portal has it (`crm.contact.userfield.list` by
 * FIELD_NAME first: a second `add` of one name is an error).
 */
export async function ensureUnsubscribedField(b24: B24Client, unsubscribedField: string): Promise<'created' | 'exists'> {
  const { result: found } = await b24.call<Array<{ FIELD_NAME: string }>>('crm.contact.userfield.list', { filter: { FIELD_NAME: unsubscribedField } });
  if (found.some((field) => field.FIELD_NAME === unsubscribedField)) return 'exists';
  await b24.call('crm.contact.userfield.add', {
    fields: {
      FIELD_NAME: unsubscribedField.replace(/^UF_CRM_/, ''),
      USER_TYPE_ID: 'boolean',
      EDIT_FORM_LABEL: 'Unsubscribed (email service)',
      LIST_COLUMN_LABEL: 'Unsubscribed',
      XML_ID: unsubscribedField,
    },
  });
  return 'created';
}
