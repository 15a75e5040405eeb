// Standard Webhooks signatures: how the hub signs HTTP tasks and callbacks, and how a receiver checks them.

const encoder = new TextEncoder();

/** A key from DROVER_SIGNING_KEYS: "whsec_<base64>" as Standard Webhooks issues them, or any other string as its bytes. */
function keyBytes(key: string): Uint8Array {
  if (key.startsWith('whsec_')) return Uint8Array.from(atob(key.slice(6)), (c) => c.charCodeAt(0));
  return encoder.encode(key);
}

async function hmac(key: string, text: string): Promise<string> {
  const k = await crypto.subtle.importKey('raw', keyBytes(key), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const sig = new Uint8Array(await crypto.subtle.sign('HMAC', k, encoder.encode(text)));
  return btoa(String.fromCharCode(...sig));
}

/** The headers that sign `body`: one `v1,<sig>` per key, so receivers can rotate keys. */
export async function signatureHeaders(keys: string[], id: string, body: string, now = Date.now()): Promise<Record<string, string>> {
  const timestamp = String(Math.floor(now / 1000));
  const signatures = await Promise.all(keys.map(async (k) => `v1,${await hmac(k, `${id}.${timestamp}.${body}`)}`));
  return { 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': signatures.join(' ') };
}

/**
 * Checks a request drover signed, on the receiving end: any of `keys` (rotation), a
 * timestamp within `toleranceSeconds`, and a signature over the exact body.
 *
 * @example
 * const ok = await verifyWebhook([process.env.DROVER_SIGNING_KEY!], Object.fromEntries(req.headers), await req.text());
 * if (!ok) return new Response('bad signature', { status: 401 });
 */
export async function verifyWebhook(
  keys: string[],
  headers: Record<string, string | string[] | undefined>,
  body: string,
  toleranceSeconds = 300,
  now = Date.now(),
): Promise<boolean> {
  const one = (name: string) => {
    const v = headers[name] ?? headers[name.toLowerCase()];
    return Array.isArray(v) ? v[0] : v;
  };
  const id = one('webhook-id');
  const timestamp = one('webhook-timestamp');
  const given = (one('webhook-signature') ?? '').split(' ').filter((s) => s.startsWith('v1,')).map((s) => s.slice(3));
  if (!id || !timestamp || given.length === 0) return false;
  if (Math.abs(now / 1000 - Number(timestamp)) > toleranceSeconds) return false;
  for (const key of keys) {
    const expected = await hmac(key, `${id}.${timestamp}.${body}`);
    if (given.some((g) => g.length === expected.length && [...g].every((ch, i) => ch === expected[i]))) return true;
  }
  return false;
}
