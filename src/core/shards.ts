// Shards: a busy queue spread over several QueueObjects, declared in DROVER_SHARDS.
import { glob, QUEUE } from './routes.ts';
import { jurisdictionOf, jurisdictions, type Jurisdiction, type JurisdictionEnv } from './jurisdictions.ts';

/** The settings objects are placed by: the shard table, and which regions are bound to a jurisdiction. */
export type PlaceEnv = { DROVER_SHARDS?: string } & JurisdictionEnv;

/** A queue has at most this many shards. */
export const MAX_SHARDS = 64;

/**
 * A QueueObject's name: its queue's, with `~i` for shard i > 0 (shard 0 keeps the plain name, so
 * adding shards moves nothing); an object in a jurisdiction has it in front, `eu:scrape~3`.
 */
const OBJECT = /^(?:(eu|fedramp):)?([a-z0-9_-]{1,64})(?:~([1-9][0-9]?))?$/;

export type ShardTable = (queue: string) => number;

const compiled = new Map<string, ShardTable | Error>();

/**
 * DROVER_SHARDS: a JSON object of queue name (or glob, `*` for any characters) to shard count,
 * 1-64: `{"scrape": 8, "bench-*": 4}`. An exact name wins, else the first glob that matches;
 * other queues have one shard. Throws on a table that could never be applied.
 */
export function compileShards(text: string | undefined): ShardTable {
  const key = text ?? '';
  let known = compiled.get(key);
  if (!known) {
    try {
      known = compileTable(key);
    } catch (err) {
      known = err as Error;
    }
    compiled.set(key, known);
  }
  // A bad table fails every call the same way (and is read once), with what is wrong in it.
  if (known instanceof Error) throw known;
  return known;
}

function compileTable(key: string): ShardTable {
  let table: Record<string, unknown> = {};
  if (key.trim() !== '') {
    try {
      table = JSON.parse(key);
    } catch {
      throw new Error(`DROVER_SHARDS is not JSON: ${key.slice(0, 100)}`);
    }
    if (table === null || typeof table !== 'object' || Array.isArray(table)) throw new Error('DROVER_SHARDS must be a JSON object of queue name to shard count');
  }
  const exact = new Map<string, number>();
  const globs: { test: RegExp; n: number }[] = [];
  for (const [pattern, n] of Object.entries(table)) {
    if (!(typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= MAX_SHARDS)) throw new Error(`DROVER_SHARDS: "${pattern}" must have a whole number of shards, 1-${MAX_SHARDS}`);
    if (pattern.includes('*') && /^[a-z0-9_*-]{1,64}$/.test(pattern)) globs.push({ test: glob(pattern), n });
    else if (QUEUE.test(pattern)) exact.set(pattern, n);
    else throw new Error(`DROVER_SHARDS: "${pattern}" is not a queue name or glob`);
  }
  return (queue) => exact.get(queue) ?? globs.find((g) => g.test.test(queue))?.n ?? 1;
}

/** How many shards the queue has under the hub's settings. */
export function shardCount(env: { DROVER_SHARDS?: string }, queue: string): number {
  return compileShards(env.DROVER_SHARDS)(queue);
}

/** The QueueObject name of shard `i` of a queue (in a jurisdiction: the queue's objects there). */
export function shardName(queue: string, i: number, jurisdiction: Jurisdiction | null = null): string {
  const name = i === 0 ? queue : `${queue}~${i}`;
  return jurisdiction ? `${jurisdiction}:${name}` : name;
}

/** Every shard's object name, shard 0 first: outside any jurisdiction, or the queue's objects in one. */
export function shardNames(env: { DROVER_SHARDS?: string }, queue: string, jurisdiction: Jurisdiction | null = null): string[] {
  return Array.from({ length: shardCount(env, queue) }, (_, i) => shardName(queue, i, jurisdiction));
}

/** Every object of a queue: its shards outside, then its shards in each jurisdiction a region is bound to. */
export function objectNames(env: PlaceEnv, queue: string): string[] {
  return [null, ...jurisdictions(env).used].flatMap((j) => shardNames(env, queue, j));
}

/**
 * The objects a claim of `region` takes from: the queue's shards outside (the untagged lane, and
 * regions bound to no jurisdiction), and for a region bound to one, the shards there (its lane).
 */
export function claimNames(env: PlaceEnv, queue: string, region: string | null): string[] {
  const j = jurisdictionOf(env, region);
  return j ? [...shardNames(env, queue, j), ...shardNames(env, queue)] : shardNames(env, queue);
}

/** The queue, shard and jurisdiction of a QueueObject name, or null for a name that is none. */
export function parseShardName(name: string): { queue: string; shard: number; jurisdiction: Jurisdiction | null } | null {
  const m = OBJECT.exec(name);
  return m ? { queue: m[2], shard: m[3] ? Number(m[3]) : 0, jurisdiction: (m[1] as Jurisdiction | undefined) ?? null } : null;
}

/** The jurisdiction an object is in (its name says), or null. */
export function jurisdictionOfObject(name: string | null | undefined): Jurisdiction | null {
  return name ? (parseShardName(name)?.jurisdiction ?? null) : null;
}

/** The queue a QueueObject name belongs to (the name itself if it is no shard's). */
export function queueOfObject(name: string): string {
  return parseShardName(name)?.queue ?? name;
}

/** 32-bit FNV-1a of a string's UTF-16 code units: stable across runtimes and deploys. */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * Which shard holds a task: tasks of one group key share one (a group's limit is kept by one
 * object), then tasks of one ordering key (their order is kept by one object), then tasks of one
 * rate key (its limits are kept by one object), then tasks of one idempotency key (a repeat goes
 * where its first went, and so to the D1 partition that recorded it); others spread by id.
 */
export function shardOf(task: { id: string; groupKey?: string | null; orderingKey: string | null; rateKey?: string | null; idempotencyKey?: string | null }, shards: number): number {
  if (shards <= 1) return 0;
  const by = task.groupKey ?? task.orderingKey ?? (task.rateKey ? `\u001f${task.rateKey}` : task.idempotencyKey ? `\u001e${task.idempotencyKey}` : task.id);
  return fnv1a(by) % shards;
}

/** A task, as far as its shard goes (its region says which jurisdiction, if any, holds it). */
export type Placeable = { id: string; queue: string; region?: string | null; groupKey?: string | null; orderingKey: string | null; rateKey?: string | null; idempotencyKey?: string | null; shard?: number | null };

/**
 * The shard a task goes to: the one it was placed on at enqueue, so that a redelivery after the
 * queue gained shards finds the object that may hold it already; else (or if that shard is gone)
 * the one the table gives now.
 */
function shardFor(env: { DROVER_SHARDS?: string }, task: Placeable): number {
  const count = shardCount(env, task.queue);
  return typeof task.shard === 'number' && task.shard >= 0 && task.shard < count ? task.shard : shardOf(task, count);
}

/** The object name that holds a task of `queue`: in its region's jurisdiction, if it is bound to one. */
export function taskShardName(env: PlaceEnv, task: Placeable): string {
  return shardName(task.queue, shardFor(env, task), jurisdictionOf(env, task.region));
}

/** Places new tasks on their shards (in place), before they are recorded or handed over. */
export function placeTasks<T extends Placeable>(env: { DROVER_SHARDS?: string }, specs: T[]): T[] {
  for (const spec of specs) if (typeof spec.shard !== 'number') spec.shard = shardFor(env, spec);
  return specs;
}
