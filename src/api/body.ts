// Reads a request body as JSON with a size cap, strict UTF-8 and a nesting limit, before any validation.
import type { Context } from 'hono';
import type { z } from 'zod';
import { readUpTo } from '../core/bytes.ts';
import { DroverError } from './errors.ts';

/** Deeper JSON than this is refused: no task needs it, and it costs stack on every hop. */
export const MAX_DEPTH = 64;

export async function readJson(c: Context, maxBytes: number): Promise<unknown> {
  const declared = Number(c.req.header('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge(maxBytes);
  if (!c.req.raw.body) throw new DroverError('invalid_request', 'the request needs a JSON body');
  const bytes = await readUpTo(c.req.raw.body, maxBytes);
  if (bytes === null) throw tooLarge(maxBytes);
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
  if (depth(value) > MAX_DEPTH) throw new DroverError('invalid_request', `the JSON nests deeper than ${MAX_DEPTH} levels`);
  return value;
}

function tooLarge(maxBytes: number): DroverError {
  return new DroverError('payload_too_large', `the request body is larger than ${Math.round(maxBytes / 1024)} KiB`);
}

/** Nesting depth, measured without recursion so hostile input cannot exhaust the stack. */
export function depth(value: unknown): number {
  let max = 0;
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length) {
    const [v, d] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (d > max) max = d;
    if (max > MAX_DEPTH) return max;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, d + 1]);
  }
  return max;
}

/** A path like tasks[3].priority, for messages a person can act on. */
function pathOf(path: PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return out;
}

export function describeIssues(error: z.ZodError, prefix: PropertyKey[] = []): string {
  return error.issues
    .slice(0, 5)
    .map((i) => {
      const path = pathOf([...prefix, ...i.path]);
      return path ? `${path}: ${i.message}` : i.message;
    })
    .join('; ');
}

/** Validates with a schema, turning its issues into one 400 with a readable message. */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new DroverError('invalid_request', `invalid ${what}: ${describeIssues(parsed.error)}`, {
    issues: parsed.error.issues.map((i) => ({ path: i.path.map(String), message: i.message })),
  });
}
