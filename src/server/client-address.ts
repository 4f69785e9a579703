/**
 * The unit a per-client limit counts. An IPv4 address is one client. An IPv6 client is its /64:
 * one subscriber or host is routinely given a whole /64 (RFC 6177; SLAAC addresses need one, RFC
 * 4862) and can use any address in it, so counting single IPv6 addresses would let one client
 * step around a limit by changing the low 64 bits. IPv4-mapped IPv6 (`::ffff:192.0.2.1`, what a
 * dual-stack socket reports for an IPv4 peer) is the IPv4 address.
 */
import { isIPv4, isIPv6 } from 'node:net';

/** `192.0.2.1` → `192.0.2.1`; `2001:db8:0:1:aaaa::1` → `2001:db8:0:1::/64`; anything else as given. */
export function clientAddressGroup(address: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  if (mapped && isIPv4(mapped[1]!)) return mapped[1]!;
  const bare = address.split('%')[0]!; // a zone index (fe80::1%eth0) names an interface, not a client
  if (!isIPv6(bare)) return address;
  const groups = ipv6Groups(bare);
  return `${groups.slice(0, 4).map((group) => group.toString(16)).join(':')}::/64`;
}

/** The eight 16-bit groups of a valid IPv6 address (`::` expanded, a trailing dotted IPv4 read as two groups). */
function ipv6Groups(address: string): number[] {
  const [head = '', tail] = address.split('::');
  const parse = (part: string): number[] =>
    part === ''
      ? []
      : part.split(':').flatMap((piece) => {
          if (!piece.includes('.')) return [parseInt(piece, 16)];
          const [a, b, c, d] = piece.split('.').map(Number) as [number, number, number, number];
          return [(a << 8) | b, (c << 8) | d];
        });
  const front = parse(head);
  if (tail === undefined) return front;
  const back = parse(tail);
  return [...front, ...Array<number>(8 - front.length - back.length).fill(0), ...back];
}
