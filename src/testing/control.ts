/** The emulator's control API (`/_emulator/…`, docs/emulator.md) from a test. */

/**
 * Calls a control route — `path` is what follows `/_emulator`, e.g. `/clock` or
 * `/portals/${memberId}/faults` — with a JSON body (none for GET) and returns the decoded answer.
 * Throws when the emulator answers with anything but 2xx.
 */
export async function emulatorControl<T = Record<string, unknown>>(
  emulator: { url: string },
  path: string,
  body: unknown = {},
  method = 'POST',
): Promise<T> {
  const response = await fetch(`${emulator.url}/_emulator${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    ...(method === 'GET' ? {} : { body: JSON.stringify(body) }),
  });
  const json = (await response.json()) as T;
  if (!response.ok) throw new Error(`control ${path} → ${response.status} ${JSON.stringify(json)}`);
  return json;
}
