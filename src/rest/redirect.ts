/**
 * Where a renamed portal's redirect may lead (docs/protocol.md §4.5). The request is POSTed again
 * there with the access token in its body, and the address is kept as the portal's new endpoint,
 * so the redirect must not take the token where the old address would not have: only http(s), and
 * never from https down to plain http, where anyone on the path could read it.
 */

/** The redirect's target, resolved against the address that answered it; or why it is refused. */
export function redirectTarget(from: string, location: string): { target: URL } | { refused: string } {
  let target: URL;
  try {
    target = new URL(location, from);
  } catch {
    return { refused: 'a redirect to an address that is not a URL' };
  }
  if (target.protocol !== 'https:' && target.protocol !== 'http:') return { refused: `a redirect to a ${target.protocol} address` };
  if (new URL(from).protocol === 'https:' && target.protocol === 'http:') return { refused: 'a redirect from https to plain http (the access token would travel unencrypted)' };
  return { target };
}
