// Reading a body with a size cap: what the API does with requests and HTTP tasks with answers.

/** The body's bytes, or null as soon as it grows past `max`. The rest is left unread: the caller cancels or discards it. */
export async function readUpTo(body: ReadableStream<Uint8Array> | null, max: number): Promise<Uint8Array | null> {
  if (!body) return new Uint8Array(0);
  const reader = body.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > max) return null;
      parts.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    bytes.set(p, at);
    at += p.byteLength;
  }
  return bytes;
}

/**
 * Reads what is left of a body and drops it, up to `max` more bytes and `ms` milliseconds.
 * True once the body has ended; false if it gave up, and then the body is cancelled.
 */
export async function discardRest(body: ReadableStream<Uint8Array> | null, max: number, ms: number): Promise<boolean> {
  if (!body) return true;
  if (body.locked) return false;
  const reader = body.getReader();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<null>((ok) => (timer = setTimeout(() => ok(null), ms)));
  let size = 0;
  try {
    for (;;) {
      const chunk = await Promise.race([reader.read(), late]);
      if (chunk === null) break;
      if (chunk.done) return true;
      size += chunk.value.byteLength;
      if (size > max) break;
    }
    await reader.cancel().catch(() => {});
    return false;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}
