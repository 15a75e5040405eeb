// Reaching a queue's objects: the shard that holds a task, any shard, or all of them.
import type { TaskSpec } from '../core/states.ts';
import { jurisdictionOfObject, objectNames, shardNames, taskShardName, type Placeable } from '../core/shards.ts';
import { jurisdictionOf } from '../core/jurisdictions.ts';
import type { Env } from '../env.ts';
import type { QueueStats } from './types.ts';
import type { KeyView } from './keys.ts';
import { unserved, type ReadyGroup } from '../core/unserved.ts';

type Found = Pick<Env, 'QUEUES' | 'DROVER_LOCAL_JURISDICTIONS'>;
type Queues = Found & Pick<Env, 'DROVER_SHARDS' | 'DROVER_JURISDICTIONS' | 'DB_EU' | 'DB_FEDRAMP'>;

/**
 * The QueueObject of this name (a queue's name is its shard 0). A name with a jurisdiction in
 * front (`eu:scrape`) is an object made in that jurisdiction, so what it stores stays there.
 * workerd has no jurisdictions (`.jurisdiction()` throws): under npm start
 * (DROVER_LOCAL_JURISDICTIONS=true) the prefixed name alone keeps it apart, in the same namespace.
 */
export function queueObject(env: Found, name: string) {
  const j = jurisdictionOfObject(name);
  const ns = j && env.DROVER_LOCAL_JURISDICTIONS !== 'true' ? env.QUEUES.jurisdiction(j) : env.QUEUES;
  return ns.get(ns.idFromName(name));
}

/** Tasks by the object that takes them, each object's in the order given. */
export function byShard(env: Queues, specs: TaskSpec[]): Map<string, TaskSpec[]> {
  const out = new Map<string, TaskSpec[]>();
  for (const spec of specs) {
    const name = taskShardName(env, spec);
    const list = out.get(name);
    if (list) list.push(spec);
    else out.set(name, [spec]);
  }
  return out;
}

/**
 * A shard of the queue picked at random: where a claim or a worker's socket lands (it takes from
 * the others too). A claim of a region bound to a jurisdiction lands on a shard there, whose
 * siblings include the shards outside (claimNames).
 */
export function anyShard(env: Queues, queue: string, region: string | null = null) {
  const names = shardNames(env, queue, jurisdictionOf(env, region));
  return queueObject(env, names[Math.floor(Math.random() * names.length)]);
}

/** Each object's answer to `call`, shard 0 first, then the shards in each jurisdiction in use. */
export function everyShard<T>(env: Queues, queue: string, call: (object: ReturnType<typeof queueObject>) => Promise<T>): Promise<T[]> {
  return Promise.all(objectNames(env, queue).map((name) => call(queueObject(env, name))));
}

/**
 * The object holding a task: the shard it maps to, or, for a task that came before its queue's
 * shards were added to, whichever shard has it (the one it maps to if none does).
 */
export async function holderOf(env: Queues, task: Placeable) {
  const home = taskShardName(env, task);
  const j = jurisdictionOf(env, task.region);
  const names = shardNames(env, task.queue, j);
  // A task of a region bound to a jurisdiction after it was enqueued is still held outside.
  if (j !== null) names.push(...shardNames(env, task.queue, null));
  const first = queueObject(env, home);
  if (names.length === 1 || (await first.get(task.id))) return first;
  for (const name of names) {
    if (name === home) continue;
    const other = queueObject(env, name);
    if (await other.get(task.id)) return other;
  }
  return first;
}

/** A queue's stats over all its shards: counts add up; settings are shard 0's (they are set on all). */
export function mergeStats(all: QueueStats[]): QueueStats {
  const out: QueueStats = { ...all[0], regions: {} };
  for (const key of ['ready', 'delayed', 'running', 'failed', 'claimCalls', 'regionWakes'] as const) out[key] = all.reduce((sum, s) => sum + s[key], 0);
  out.paused = all.some((s) => s.paused);
  // Each shard's own view; queueStats then keeps what no shard's workers would take.
  out.unserved = unserved(all.flatMap((s) => s.unserved), []);
  for (const s of all) {
    for (const [region, r] of Object.entries(s.regions)) {
      const into = (out.regions[region] ??= { ready: 0, running: 0 });
      into.ready += r.ready;
      into.running += r.running;
    }
  }
  return out;
}

/**
 * A queue's stats, its shards' together. A worker claims through one shard (and takes from the
 * others), so a group one shard's workers leave is unserved only if no other shard's would take it.
 */
export async function queueStats(env: Queues, queue: string): Promise<QueueStats> {
  const stats = mergeStats(await everyShard(env, queue, (o) => o.stats()));
  if (stats.unserved.length === 0 || objectNames(env, queue).length === 1) return stats;
  const left = await everyShard(env, queue, (o) => o.unservedOf(stats.unserved));
  const key = (g: ReadyGroup) => JSON.stringify([g.task, g.region]);
  const everywhere = left.map((groups) => new Set(groups.map(key)));
  return { ...stats, unserved: stats.unserved.filter((g) => everywhere.every((set) => set.has(key(g)))) };
}

/** What GET /metrics reports of a queue, its shards' together. */
export async function queueMetrics(env: Queues, queue: string) {
  const all = await everyShard(env, queue, (o) => o.metrics());
  const counters: Record<string, number> = {};
  for (const m of all) for (const [k, v] of Object.entries(m.counters)) counters[k] = (counters[k] ?? 0) + v;
  const ages = all.map((m) => m.oldestReadyMs).filter((ms): ms is number => ms !== null);
  return {
    counters,
    stats: mergeStats(all.map((m) => m.stats)),
    oldestReadyMs: ages.length ? Math.max(...ages) : null,
    dead: all.reduce((sum, m) => sum + m.dead, 0),
    statements: { object: all.reduce((sum, m) => sum + m.statements.object, 0), d1: all.reduce((sum, m) => sum + m.statements.d1, 0) },
    // Each object's top keys, a key's entries from several objects added together (one series per key), the 100 with most waiting.
    keys: mergeKeys(all.flatMap((m) => m.keys)).sort((a, b) => b.waiting - a.waiting).slice(0, 100),
  };
}

/**
 * Rate keys as several objects report them, one entry per key, ascending. A key's tasks sit on one
 * shard (its rateKey places them), unless a group or ordering key placed some elsewhere or its
 * tasks are both in a jurisdiction and outside: then its entries are added together, with the
 * lower rate now and the later pause.
 */
export function mergeKeys(views: KeyView[]): KeyView[] {
  const merged = new Map<string, KeyView>();
  for (const view of views) {
    const was = merged.get(view.key);
    merged.set(view.key, was ? {
      ...was,
      currentRate: was.currentRate === null ? view.currentRate : view.currentRate === null ? was.currentRate : Math.min(was.currentRate, view.currentRate),
      running: was.running + view.running,
      waiting: was.waiting + view.waiting,
      rateLimited: was.rateLimited + view.rateLimited,
      pausedUntil: Math.max(was.pausedUntil ?? 0, view.pausedUntil ?? 0) || null,
    } : view);
  }
  return [...merged.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}
