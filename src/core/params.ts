// Rows that travel to SQLite as JSON parameters: one statement per chunk, each under the bound-value limit.

/**
 * D1 and Durable Object SQLite both bind one value of at most 2 MB ("Maximum string, BLOB or
 * table row size", the platforms' limits pages), and a statement takes at most 100 bound
 * parameters: rows travel as one JSON parameter each chunk, below this.
 */
export const MAX_PARAM_BYTES = 900_000;

const encoder = new TextEncoder();

/** UTF-8 bytes of a string: its length when it is ASCII (most rows), else counted. */
export function utf8Bytes(text: string): number {
  return /[^\x00-\x7f]/.test(text) ? encoder.encode(text).byteLength : text.length;
}

/**
 * Whether a string is more than `max` bytes of UTF-8. A UTF-16 unit is at most 3 bytes, so a
 * string of at most a third of that many units is not, and costs one comparison.
 */
export function overUtf8Bytes(text: string, max: number): boolean {
  return text.length * 3 > max && utf8Bytes(text) > max;
}

/** JSON texts of rows, joined into JSON arrays of at most MAX_PARAM_BYTES each (one row may exceed it alone). */
export function jsonChunks(items: string[]): string[] {
  // Most calls are one chunk: when three bytes a UTF-16 unit (the most there can be) fit, no item is counted.
  let units = items.length;
  for (const item of items) units += item.length;
  if (units * 3 <= MAX_PARAM_BYTES) return items.length ? [`[${items.join(',')}]`] : [];
  const out: string[] = [];
  let chunk: string[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = utf8Bytes(item);
    if (chunk.length && bytes + size > MAX_PARAM_BYTES) {
      out.push(`[${chunk.join(',')}]`);
      chunk = [];
      bytes = 0;
    }
    chunk.push(item);
    bytes += size + 1;
  }
  if (chunk.length) out.push(`[${chunk.join(',')}]`);
  return out;
}
