// Who a request is: bearer tokens with scopes (DROVER_TOKENS), compared in constant time, and the checks of each scope.
import { DroverError } from './errors.ts';

export interface Principal {
  /** A fingerprint of the token: leases remember who claimed them. */
  id: string;
  admin: boolean;
  enqueue: boolean;
  /** Consume from any region. */
  consumeAny: boolean;
  /** Regions this token may consume from (consume@R). */
  consumeRegions: Set<string>;
}

interface TokenEntry {
  digest: Uint8Array;
  principal: Principal;
}

const encoder = new TextEncoder();

async function digest(token: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(token)));
}

function hex(bytes: Uint8Array, n: number): string {
  return Array.from(bytes.slice(0, n), (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * DROVER_TOKENS parsed, and the tokens presented so far that matched an entry, with their
 * principal: a known token is found without hashing it again. Only tokens of the entries are
 * kept, so the map grows no larger than DROVER_TOKENS; a change of it starts both afresh.
 */
let cache: { raw: string; entries: Promise<TokenEntry[]>; known: Map<string, Principal> } | null = null;

/** Parses `token:scope[+scope...]` entries, comma-separated; malformed entries are skipped with a warning. */
export function parseTokens(raw: string): Promise<TokenEntry[]> {
  return tokensOf(raw).entries;
}

/** DROVER_TOKENS as `raw` has it, parsed once, with the tokens matched since. */
function tokensOf(raw: string): NonNullable<typeof cache> {
  if (cache?.raw === raw) return cache;
  const entries = Promise.all(
    raw
      .split(',')
      .map((entry) => entry.trim())
      .filter(Boolean)
      .map(async (entry) => {
        const at = entry.lastIndexOf(':');
        if (at <= 0) {
          console.warn('DROVER_TOKENS: an entry has no scopes and is ignored');
          return null;
        }
        const d = await digest(entry.slice(0, at));
        const principal: Principal = { id: hex(d, 8), admin: false, enqueue: false, consumeAny: false, consumeRegions: new Set() };
        for (const scope of entry.slice(at + 1).split('+')) {
          if (scope === 'admin') principal.admin = true;
          else if (scope === 'enqueue') principal.enqueue = true;
          else if (scope === 'consume') principal.consumeAny = true;
          else if (/^consume@[a-z0-9-]{1,32}$/.test(scope)) principal.consumeRegions.add(scope.slice(8));
          else console.warn(`DROVER_TOKENS: unknown scope "${scope}" ignored`);
        }
        return { digest: d, principal };
      }),
  ).then((list) => list.filter((e): e is TokenEntry => e !== null));
  cache = { raw, entries, known: new Map() };
  return cache;
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  const subtle = crypto.subtle as SubtleCrypto & { timingSafeEqual?: (a: ArrayBufferView, b: ArrayBufferView) => boolean };
  if (subtle.timingSafeEqual) return subtle.timingSafeEqual(a, b);
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/** The principal of a request's bearer token: 401 without a known token. */
export async function principalOf(header: string | undefined, tokens: string | undefined): Promise<Principal> {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  if (!match) throw new DroverError('unauthorized', 'send an access token as "Authorization: Bearer <token>"');
  const { entries, known } = tokensOf(tokens ?? '');
  // A token that matched before: the answer (200 or 401) says as much as how soon it comes.
  const seen = known.get(match[1]);
  if (seen) return seen;
  const presented = await digest(match[1]);
  let found: Principal | null = null;
  // Compare against every entry, so the time taken does not depend on which matched.
  for (const entry of await entries) {
    if (equal(entry.digest, presented)) found = entry.principal;
  }
  if (!found) throw new DroverError('unauthorized', 'this access token is not known to the hub');
  known.set(match[1], found);
  return found;
}

export function requireEnqueue(p: Principal): void {
  if (!p.admin && !p.enqueue) throw new DroverError('forbidden', 'this token lacks the "enqueue" scope');
}

export function requireAdmin(p: Principal): void {
  if (!p.admin) throw new DroverError('forbidden', 'this action needs a token with the "admin" scope');
}

/** Any consumer may call lease routes; whose lease it is, the QueueObject checks. */
export function requireConsumer(p: Principal): void {
  if (!p.admin && !p.consumeAny && p.consumeRegions.size === 0) throw new DroverError('forbidden', 'this token lacks a "consume" scope');
}

export function requireClaim(p: Principal, region: string | null): void {
  if (p.admin || p.consumeAny) return;
  requireConsumer(p);
  if (region === null || !p.consumeRegions.has(region)) {
    const allowed = [...p.consumeRegions].join(', ');
    throw new DroverError('forbidden', `this token may only claim with region ${allowed}`);
  }
}

/** The owner a lease records: admins act on any lease, consumers only on their own. */
export function leaseOwner(p: Principal): string | null {
  return p.admin ? null : p.id;
}
