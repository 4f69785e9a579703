/**
 * CRM dates as the portal writes them: ISO 8601 with the portal's UTC offset, e.g.
 * `2024-08-30T14:29:00+02:00` (the REST docs' crm-deal-get page, apidocs.bitrix24.com).
 *
 * Date-only fields (`BEGINDATE`, `CLOSEDATE`, `BIRTHDATE`) are not local midnight: the docs' examples
 * write the day as midnight UTC seen in the portal's offset, so the hour equals the offset
 * (`"BEGINDATE": "2024-08-30T02:00:00+02:00"` in crm-deal-get.md, `"birthdate": "2000-01-01T02:00:00+02:00"`
 * in crm-item-get.md, `'2018-06-07T03:00:00+03:00'` in b24jssdk's ISODate type). The on-premise core
 * computes the same: `CRestUtil::ConvertDate` is `date('c', MakeTimeStamp($dt, FORMAT_DATE) + date("Z"))`,
 * local midnight shifted by the offset.
 */
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let cached = formatters.get(timeZone);
  if (!cached) {
    cached = new Intl.DateTimeFormat('en-US', {
      // an unknown zone name (the control API takes any string) falls back to UTC, not a 500
      timeZone: isKnownZone(timeZone) ? timeZone : 'UTC',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
      timeZoneName: 'longOffset',
    });
    formatters.set(timeZone, cached);
  }
  return cached;
}

function isKnownZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
    return true;
  } catch {
    return false;
  }
}

interface LocalParts {
  date: string;
  time: string;
  offset: string;
}

function localParts(ms: number, timeZone: string): LocalParts {
  const parts: Record<string, string> = {};
  for (const part of formatter(timeZone).formatToParts(new Date(ms))) parts[part.type] = part.value;
  const name = parts.timeZoneName ?? 'GMT';
  const offset = name === 'GMT' ? '+00:00' : name.replace('GMT', '');
  return { date: `${parts.year}-${parts.month}-${parts.day}`, time: `${parts.hour}:${parts.minute}:${parts.second}`, offset };
}

/** `2026-01-01T13:00:00+01:00` for `ms` in `timeZone`. */
export function isoInZone(ms: number, timeZone: string): string {
  const { date, time, offset } = localParts(ms, timeZone);
  return `${date}T${time}${offset}`;
}

/**
 * A date-only value for the calendar day containing `ms` in `timeZone`: that day's midnight UTC,
 * written in the zone's offset, e.g. `2026-01-01T01:00:00+01:00` in Berlin. West of UTC the written
 * day is the previous one (`2025-12-31T19:00:00-05:00` in New York), as the core's formula gives.
 */
export function dateInZone(ms: number, timeZone: string): string {
  return isoInZone(Date.parse(`${calendarDay(ms, timeZone)}T00:00:00Z`), timeZone);
}

/** `YYYY-MM-DD` of `ms` in `timeZone`. */
export function calendarDay(ms: number, timeZone: string): string {
  return localParts(ms, timeZone).date;
}

/**
 * The comparable day of a date-only value: midnight UTC of its day, in epoch ms. A stored value
 * (written by `dateInZone`) is already that instant; caller input names its day in the portal's zone.
 */
export function dayKey(value: unknown, timeZone: string, stored: boolean): number {
  if (stored) return Date.parse(String(value));
  const ms = parseDateInput(value, timeZone);
  return Number.isNaN(ms) ? Number.NaN : Date.parse(`${calendarDay(ms, timeZone)}T00:00:00Z`);
}

function offsetMinutes(offset: string): number {
  const match = /^([+-])(\d\d):(\d\d)$/.exec(offset);
  if (!match) return 0;
  const minutes = Number(match[2]) * 60 + Number(match[3]);
  return match[1] === '-' ? -minutes : minutes;
}

/**
 * Parses a date the caller sent: ISO 8601 (with or without offset), `YYYY-MM-DD`, or the
 * portal's `DD.MM.YYYY`. Values without an offset are read in the portal's zone. NaN if unreadable.
 */
export function parseDateInput(value: unknown, timeZone: string): number {
  if (typeof value === 'number') return value > 1e11 ? value : value * 1000;
  if (typeof value !== 'string') return Number.NaN;
  const text = value.trim();
  const dotted = /^(\d{2})\.(\d{2})\.(\d{4})(?:\s+(\d{2}:\d{2}(?::\d{2})?))?$/.exec(text);
  const iso = dotted ? `${dotted[3]}-${dotted[2]}-${dotted[1]}T${dotted[4] ?? '00:00:00'}` : text;
  if (/[zZ]$|[+-]\d\d:?\d\d$/.test(iso)) return Date.parse(iso);
  const local = /^\d{4}-\d{2}-\d{2}$/.test(iso) ? `${iso}T00:00:00` : iso.replace(' ', 'T');
  const asUtc = Date.parse(`${local}Z`);
  if (Number.isNaN(asUtc)) return Number.NaN;
  return asUtc - offsetMinutes(localParts(asUtc, timeZone).offset) * 60_000;
}
