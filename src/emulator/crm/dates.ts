/**
 * CRM dates as the portal writes them: ISO 8601 with the portal's UTC offset, e.g.
 * `2024-08-30T14:29:00+02:00` (D:api-reference/crm/deals/crm-deal-get.md). Date-only fields
 * (`BEGINDATE`, `CLOSEDATE`, `BIRTHDATE`) are local midnight.
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

/** Local midnight of the day containing `ms`, e.g. `2026-01-01T00:00:00+01:00`. */
export function dateInZone(ms: number, timeZone: string): string {
  const { date } = localParts(ms, timeZone);
  // the offset at midnight can differ from the offset at `ms` on DST days: ask again for midnight
  const guess = Date.parse(`${date}T00:00:00Z`);
  const { offset } = localParts(guess - offsetMinutes(localParts(guess, timeZone).offset) * 60_000, timeZone);
  return `${date}T00:00:00${offset}`;
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
