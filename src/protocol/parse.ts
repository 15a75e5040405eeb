// Checks of parsed JSON and of zod schemas, with refusals that name the field: for HTTP bodies and socket messages alike.
import type { z } from 'zod';
import { DroverError } from './errors.ts';

/** Deeper JSON than this is refused: no task needs it, and it costs stack on every hop. */
export const MAX_DEPTH = 64;

/** An object or array met on the walk: its nesting depth, and where it sits, to name a child in a refusal. */
interface Visit {
  value: object;
  depth: number;
  up: Visit | null;
  key: PropertyKey;
}

/**
 * Refuses parsed JSON that nests deeper than MAX_DEPTH, or that holds a number too large for a
 * double: JSON.parse reads 1e400 as Infinity, which every later JSON.stringify writes as null, so
 * the client's number would silently come back as null. One walk, without recursion so that
 * hostile input cannot exhaust the stack; leaves cost a typeof each. (Integers past 2^53 stay
 * doubles, rounded, as JSON itself has them.)
 */
export function checkJson(value: unknown): void {
  const stack: Visit[] = [];
  meet(stack, value, null, '');
  while (stack.length) {
    const visit = stack.pop()!;
    const v = visit.value;
    if (Array.isArray(v)) for (let i = 0; i < v.length; i++) meet(stack, v[i], visit, i);
    else for (const key in v) meet(stack, (v as Record<string, unknown>)[key], visit, key);
  }
}

/** checkJson's look at one value (a function of the module's: a closure would be made, and named, at every call). */
function meet(stack: Visit[], v: unknown, up: Visit | null, key: PropertyKey): void {
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) tooLargeNumber(v, up, key);
  } else if (typeof v === 'object' && v !== null) {
    const depth = up ? up.depth + 1 : 1;
    if (depth > MAX_DEPTH) throw new DroverError('invalid_request', `the JSON nests deeper than ${MAX_DEPTH} levels`);
    stack.push({ value: v, depth, up, key });
  }
}

function tooLargeNumber(v: number, up: Visit | null, key: PropertyKey): never {
  const keys: PropertyKey[] = up ? [key] : [];
  for (let at = up; at?.up; at = at.up) keys.push(at.key);
  const path = pathOf(keys.reverse());
  throw new DroverError(
    'invalid_request',
    `${path || 'the body'}: must be a number between -1.8e308 and 1.8e308, the range of a JSON number here (this one overflows to ${v}); send larger numbers as strings`,
    { path },
  );
}

/** A path like tasks[3].priority, for messages a person can act on. */
function pathOf(path: PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return out;
}

export function describeIssues(error: z.ZodError, prefix: PropertyKey[] = []): string {
  // A number past 2^53 fails both "whole number" and "at most": one range, said once.
  const said = new Set(
    error.issues.map((i) => {
      const path = pathOf([...prefix, ...i.path]);
      return path ? `${path}: ${i.message}` : i.message;
    }),
  );
  return [...said].slice(0, 5).join('; ');
}

/** Refuses one field of a request that passed its schema (a check across fields), in parseWith's shape. */
export function refuseField(what: string, field: string, message: string): never {
  throw new DroverError('invalid_request', `invalid ${what}: ${field}: ${message}`, { issues: [{ path: [field], message }] });
}

/** Validates with a schema, turning its issues into one 400 with a readable message. */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new DroverError('invalid_request', `invalid ${what}: ${describeIssues(parsed.error)}`, {
    issues: parsed.error.issues.map((i) => ({ path: i.path.map(String), message: i.message })),
  });
}
