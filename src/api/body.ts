// Reads a request body as JSON with a size cap, strict UTF-8 and a nesting limit, before any validation.
import type { Context } from 'hono';
import { readUpTo } from '../core/bytes.ts';
import { DroverError } from '../protocol/errors.ts';
import { checkJson } from '../protocol/parse.ts';

export async function readJson(c: Context, maxBytes: number): Promise<unknown> {
  const length = c.req.header('content-length');
  const declared = length !== undefined && /^[0-9]+$/.test(length) ? Number(length) : null;
  if (declared !== null && declared > maxBytes) throw tooLarge(maxBytes);
  if (!c.req.raw.body) throw new DroverError('invalid_request', 'the request needs a JSON body');
  // A body of declared length ends there (the runtime frames it), so it is read whole: one call,
  // where a reader takes one a chunk. A body of no declared length is read chunk by chunk, up to the cap.
  const bytes = declared !== null ? new Uint8Array(await c.req.raw.arrayBuffer()) : await readUpTo(c.req.raw.body, maxBytes);
  if (bytes === null || bytes.byteLength > maxBytes) throw tooLarge(maxBytes);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw new DroverError('invalid_request', 'the request body is not valid UTF-8');
  }
  if (text.trim() === '') throw new DroverError('invalid_request', 'the request needs a JSON body');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new DroverError('invalid_request', `the request body is not valid JSON: ${(err as Error).message}`);
  }
  checkJson(value);
  return value;
}

function tooLarge(maxBytes: number): DroverError {
  return new DroverError('payload_too_large', `the request body is larger than ${Math.round(maxBytes / 1024)} KiB`);
}
