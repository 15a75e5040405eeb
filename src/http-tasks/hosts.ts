// Whether a host is on the public internet: addresses judged by IANA's special-purpose registries, names by the special-use ones.

/** An IP address as a number: 32 bits for IPv4, 128 for IPv6. */
export interface Address {
  v: 4 | 6;
  n: bigint;
}

/** A block of addresses: the first `bits` bits of `base`. */
export interface Cidr extends Address {
  bits: number;
}

const width = (v: 4 | 6) => (v === 4 ? 32 : 128);

/** Dotted decimal, as URL parsing and resolvers write IPv4: no leading zeros, which some parsers read as octal. */
export function parseIPv4(text: string): bigint | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return null;
  let n = 0n;
  for (const part of m.slice(1)) {
    if ((part.length > 1 && part[0] === '0') || Number(part) > 255) return null;
    n = (n << 8n) | BigInt(part);
  }
  return n;
}

/** Any spelling of IPv6: full, `::`-compressed, with a dotted quad in its last 32 bits. No zone (`%eth0`). */
export function parseIPv6(text: string): bigint | null {
  const halves = text.split('::');
  if (halves.length > 2 || (halves.length === 2 && halves[0].includes('.'))) return null;
  const groups = (s: string): number[] | null => {
    if (s === '') return [];
    const parts = s.split(':');
    const out: number[] = [];
    for (const [i, p] of parts.entries()) {
      if (/^[0-9a-f]{1,4}$/i.test(p)) out.push(parseInt(p, 16));
      else if (i === parts.length - 1 && parseIPv4(p) !== null) {
        const v4 = parseIPv4(p)!;
        out.push(Number(v4 >> 16n), Number(v4 & 0xffffn));
      } else return null;
    }
    return out;
  };
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  if (!head || !tail) return null;
  const count = head.length + tail.length;
  if (halves.length === 1 ? count !== 8 : count > 7) return null;
  return [...head, ...Array<number>(8 - count).fill(0), ...tail].reduce((n, g) => (n << 16n) | BigInt(g), 0n);
}

/** An IPv4 or IPv6 address, IPv6 with or without its URL brackets; null for anything else (a name). */
export function parseAddress(text: string): Address | null {
  const v4 = parseIPv4(text);
  if (v4 !== null) return { v: 4, n: v4 };
  const inner = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  const v6 = inner.includes(':') ? parseIPv6(inner) : null;
  return v6 === null ? null : { v: 6, n: v6 };
}

/** `a.b.c.d/n`, `x:y::/n`, or one address (a block of one). */
export function parseCidr(text: string): Cidr | null {
  const [base, bits, extra] = text.split('/');
  const address = extra === undefined ? parseAddress(base) : null;
  if (!address) return null;
  const n = bits === undefined ? width(address.v) : /^\d{1,3}$/.test(bits) ? Number(bits) : NaN;
  return n >= 0 && n <= width(address.v) ? { ...address, bits: n } : null;
}

export function inCidr(a: Address, c: Cidr): boolean {
  const shift = BigInt(width(c.v) - c.bits);
  return a.v === c.v && a.n >> shift === c.n >> shift;
}

export function formatIPv4(n: bigint): string {
  return [24n, 16n, 8n, 0n].map((s) => String((n >> s) & 255n)).join('.');
}

// ---- The registries ----------------------------------------------------------------------------

/**
 * IPv4 addresses that are not globally reachable: the IANA IPv4 Special-Purpose Address Registry
 * (iana.org/assignments/iana-ipv4-special-registry) and multicast. All of 192.0.0.0/24 is refused,
 * its two anycast entries marked global (PCP 192.0.0.9, TURN 192.0.0.10) with it: neither is a web
 * server. The blocks the registry marks global (AS112, AMT) are not listed, so they may be called.
 */
export const SPECIAL_V4: readonly (readonly [string, string])[] = [
  ['0.0.0.0/8', '"this network" (RFC 791)'],
  ['10.0.0.0/8', 'private-use (RFC 1918)'],
  ['100.64.0.0/10', 'shared address space (RFC 6598)'],
  ['127.0.0.0/8', 'loopback (RFC 1122)'],
  ['169.254.0.0/16', 'link-local (RFC 3927), where cloud metadata services answer'],
  ['172.16.0.0/12', 'private-use (RFC 1918)'],
  ['192.0.0.0/24', 'IETF protocol assignments (RFC 6890)'],
  ['192.0.2.0/24', 'documentation, TEST-NET-1 (RFC 5737)'],
  ['192.88.99.0/24', '6to4 relay anycast, deprecated (RFC 7526)'],
  ['192.168.0.0/16', 'private-use (RFC 1918)'],
  ['198.18.0.0/15', 'benchmarking (RFC 2544)'],
  ['198.51.100.0/24', 'documentation, TEST-NET-2 (RFC 5737)'],
  ['203.0.113.0/24', 'documentation, TEST-NET-3 (RFC 5737)'],
  ['224.0.0.0/4', 'multicast (RFC 5771)'],
  ['255.255.255.255/32', 'limited broadcast (RFC 919)'],
  ['240.0.0.0/4', 'reserved (RFC 1112)'],
];

/**
 * IPv6 addresses that are not globally reachable: the IANA IPv6 Special-Purpose Address Registry
 * (iana.org/assignments/iana-ipv6-special-registry), the deprecated forms that carry IPv4 or a
 * site's scope, and multicast; first match names the reason. All of 2001::/23 is refused, the
 * entries marked global inside it (anycast services, ORCHIDv2 and DRIP identifiers) with it: none
 * is a web server. Outside 2000::/3 (the only space allocated for global unicast) everything is
 * refused but 64:ff9b::/96, which `notGlobal` judges by the IPv4 address inside, as it does 2002::/16.
 */
export const SPECIAL_V6: readonly (readonly [string, string])[] = [
  ['::/128', 'unspecified (RFC 4291)'],
  ['::1/128', 'loopback (RFC 4291)'],
  ['::/96', 'IPv4-compatible, deprecated (RFC 4291)'],
  ['::ffff:0:0/96', 'IPv4-mapped (RFC 4291); call the IPv4 address itself'],
  ['::ffff:0:0:0/96', 'IPv4-translated (RFC 2765)'],
  ['64:ff9b:1::/48', 'local-use IPv4/IPv6 translation (RFC 8215)'],
  ['100::/64', 'discard-only (RFC 6666)'],
  ['100:0:0:1::/64', 'dummy prefix (RFC 9780)'],
  ['2001::/23', 'IETF protocol assignments, Teredo among them (RFC 2928)'],
  ['2001:db8::/32', 'documentation (RFC 3849)'],
  ['3fff::/20', 'documentation (RFC 9637)'],
  ['5f00::/16', 'segment routing SIDs (RFC 9602)'],
  ['fc00::/7', 'unique-local (RFC 4193)'],
  ['fe80::/10', 'link-local (RFC 4291)'],
  ['fec0::/10', 'site-local, deprecated (RFC 3879)'],
  ['ff00::/8', 'multicast (RFC 4291)'],
  ['::/3', 'not allocated for global unicast (only 2000::/3 is)'],
  ['4000::/2', 'not allocated for global unicast (only 2000::/3 is)'],
  ['8000::/1', 'not allocated for global unicast (only 2000::/3 is)'],
];

/** Well-known NAT64 (RFC 6052): the IPv4 address in the last 32 bits is the one reached. */
export const NAT64 = '64:ff9b::/96';
/** 6to4 (RFC 3056): the IPv4 address in bits 16 to 47 is the relay's way in. */
export const SIX_TO_FOUR = '2002::/16';

const blocks = (table: readonly (readonly [string, string])[]) => table.map(([cidr, name]) => ({ cidr: parseCidr(cidr)!, name }));
const V4 = blocks(SPECIAL_V4);
const V6 = blocks(SPECIAL_V6);
const nat64 = parseCidr(NAT64)!;
const sixToFour = parseCidr(SIX_TO_FOUR)!;

/** Why `a` is not globally reachable (the registry entry's name), or null if it is. */
export function notGlobal(a: Address): string | null {
  if (a.v === 6) {
    const embedded = inCidr(a, nat64) ? a.n & 0xffffffffn : inCidr(a, sixToFour) ? (a.n >> 80n) & 0xffffffffn : null;
    if (embedded !== null) {
      const inner = notGlobal({ v: 4, n: embedded });
      return inner && `${inCidr(a, nat64) ? 'NAT64' : '6to4'} of ${formatIPv4(embedded)}, ${inner}`;
    }
  }
  return (a.v === 4 ? V4 : V6).find((b) => inCidr(a, b.cidr))?.name ?? null;
}

/**
 * Every block `notGlobal` refuses, as CIDRs, for a filter that sees only addresses (workerd's
 * network service): NAT64 and 6to4 spellings of the IPv4 blocks included, since such a filter
 * cannot look inside. NAT64's own /96 must be allowed beside it, or ::/3 hides it.
 */
export function notGlobalCidrs(): string[] {
  const hex = (n: bigint) => n.toString(16);
  const embedded = V4.flatMap(({ cidr }) => [
    `64:ff9b::${hex(cidr.n >> 16n)}:${hex(cidr.n & 0xffffn)}/${96 + cidr.bits}`,
    `2002:${hex(cidr.n >> 16n)}:${hex(cidr.n & 0xffffn)}::/${16 + cidr.bits}`,
  ]);
  return [...SPECIAL_V4, ...SPECIAL_V6].map(([c]) => c).concat(embedded);
}

/** A host as the guard compares it: lowercase, no trailing dot, IPv6 without brackets. Null if it has an empty label. */
export function canonicalHost(host: string): string | null {
  const h = host.toLowerCase().replace(/\.$/, '').replace(/^\[(.*)\]$/, '$1');
  return h === '' || h.startsWith('.') || h.endsWith('.') || h.includes('..') ? null : h;
}

/**
 * Names that never lead to the public internet: special-use names (RFC 6761: localhost, test,
 * invalid, example; RFC 6762: local; RFC 8375: home.arpa; RFC 9476: alt; RFC 7686: onion), the
 * private-use TLD internal (ICANN, 2024), localdomain as /etc/hosts writes it, and cloud
 * metadata services by name.
 */
const SPECIAL_NAMES = /(^|\.)(localhost|localdomain|local|internal|home\.arpa|test|invalid|example|alt|onion)$/;
const METADATA_NAMES = new Set(['metadata.google.internal', 'metadata.goog', 'instance-data.ec2.internal']);

/**
 * Why a name (lowercase, without its trailing dot) never leads to the public internet, or null.
 * A name that spells a non-global IPv4 address in its labels (`127.0.0.1.nip.io`, `10-0-0-1.sslip.io`)
 * is refused too: wildcard DNS services answer such names with that address.
 */
export function specialName(name: string): string | null {
  if (METADATA_NAMES.has(name)) return 'a cloud metadata service';
  const special = SPECIAL_NAMES.exec(name);
  if (special) return `the special-use name .${special[2]}`;
  if (!name.includes('.')) return 'a single-label name, which only a local resolver answers';
  // Four numbers joined by dots or dashes, anywhere in the name: 127.0.0.1.nip.io, app-10-0-0-1.sslip.io.
  const quad = /(\d{1,3})[.-](\d{1,3})[.-](\d{1,3})[.-](\d{1,3})(?!\d)/y;
  for (let i = 0; i < name.length; i++) {
    if (i > 0 && /\d/.test(name[i - 1])) continue;
    quad.lastIndex = i;
    const m = quad.exec(name);
    const v4 = m && parseIPv4(m.slice(1).map(Number).join('.'));
    const why = v4 == null ? null : notGlobal({ v: 4, n: v4 });
    if (why) return `a name that spells ${formatIPv4(v4!)}, ${why}, which wildcard DNS answers with`;
  }
  return null;
}
