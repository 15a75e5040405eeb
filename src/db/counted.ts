// D1 statements counted as they are sent: a D1 binding that adds one per statement run (a batch of k adds k), for GET /metrics.
import type { Env } from '../env.ts';

/** Statements sent so far by one owner (the hub's isolate, or one queue object), since it started. */
export interface D1Count {
  d1: number;
}

/** The hub Worker's own D1 statements in this isolate (its HTTP routes, the bus consumer, the cron trigger). */
export const hubD1: D1Count = { d1: 0 };

const RUNS = new Set<PropertyKey>(['first', 'run', 'all', 'raw']);
/** The runtime's own statement behind each counted one: its batch() takes only its own. */
const inner = new WeakMap<object, D1PreparedStatement>();

/**
 * `target` with some of its methods replaced (`replaced` answers undefined for the rest, which
 * keep `target` as `this`). What is assigned to the wrapper stays on it: a test that patches a
 * method and calls the one it read before gets the counting one, not itself.
 */
function wrapped<T extends object>(target: T, replaced: (prop: PropertyKey) => unknown): T {
  const own = new Map<PropertyKey, unknown>();
  return new Proxy(target, {
    get(t, prop) {
      if (own.has(prop)) return own.get(prop);
      const mine = replaced(prop);
      if (mine !== undefined) return mine;
      const value = Reflect.get(t, prop, t);
      return typeof value === 'function' ? value.bind(t) : value;
    },
    set(_, prop, value) {
      own.set(prop, value);
      return true;
    },
  });
}

function countedStatement(statement: D1PreparedStatement, count: D1Count): D1PreparedStatement {
  const counted = wrapped(statement, (prop) => {
    if (prop === 'bind') return (...values: unknown[]) => countedStatement(statement.bind(...values), count);
    if (!RUNS.has(prop)) return undefined;
    const run = Reflect.get(statement, prop, statement) as (...args: unknown[]) => unknown;
    return (...args: unknown[]) => {
      count.d1++;
      return run.apply(statement, args);
    };
  });
  inner.set(counted, statement);
  return counted;
}

/** `db`, counting into `count` each statement it runs. Costs an increment and a proxy per statement: nothing beside a D1 round trip. */
export function countedD1(db: D1Database, count: D1Count): D1Database {
  return wrapped(db, (prop) => {
    if (prop === 'prepare') return (query: string) => countedStatement(db.prepare(query), count);
    if (prop === 'batch') {
      return (statements: D1PreparedStatement[]) => {
        count.d1 += statements.length;
        return db.batch(statements.map((s) => inner.get(s) ?? s));
      };
    }
    return undefined;
  });
}

/** Per count, the env each env became: the runtime hands the same env to every request of an isolate. */
const made = new WeakMap<D1Count, WeakMap<object, object>>();

/** `env` with each D1 binding counting into `count`; the same object again for the same env and count. */
export function withCountedD1<E extends Pick<Env, 'DB' | 'DB_EU' | 'DB_FEDRAMP'>>(env: E, count: D1Count): E {
  let byEnv = made.get(count);
  if (!byEnv) made.set(count, (byEnv = new WeakMap()));
  const known = byEnv.get(env) as E | undefined;
  if (known) return known;
  const out: E = { ...env };
  // Every D1 binding bound: DB, the jurisdictions' (DB_EU, DB_FEDRAMP) and the partitions' (DB_P1 ...).
  const bindings = out as unknown as Record<string, D1Database | undefined>;
  for (const key of Object.keys(env)) if (/^DB(_[A-Z0-9]+)?$/.test(key) && bindings[key]) bindings[key] = countedD1(bindings[key], count);
  byEnv.set(env, out);
  return out;
}
