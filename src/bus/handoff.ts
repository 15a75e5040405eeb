// Hands recorded tasks to their QueueObjects: straight over RPC, the bus when that fails.
import type { TaskSpec } from '../core/states.ts';
import type { Env } from '../env.ts';
import { byShard, queueObject } from '../queue/stubs.ts';
import { send } from './envelope.ts';
import { jurisdictionOf } from '../core/jurisdictions.ts';

/**
 * The hub's own path for tasks it has recorded in D1: each queue's tasks go to their objects (their shards)
 * in one RPC, which saves the bus's hop (a queue's delivery latency is most of an enqueue's
 * time to start). A queue whose object cannot take them now gets them over the bus instead,
 * and if the bus fails too, the redelivery sweep carries them: D1 holds them either way.
 * Other Workers still enqueue through the bus (`env.BUS.send(envelope(...))`).
 */
export async function handOff(env: Pick<Env, 'QUEUES' | 'BUS' | 'DROVER_SHARDS' | 'DROVER_JURISDICTIONS' | 'DROVER_LOCAL_JURISDICTIONS' | 'DB_EU' | 'DB_FEDRAMP'>, specs: TaskSpec[]): Promise<void> {
  const left: TaskSpec[] = [];
  await Promise.all(
    [...byShard(env, specs)].map(async ([shard, list]) => {
      try {
        await queueObject(env, shard).deliver(list);
      } catch (err) {
        console.error(`direct delivery to queue ${shard} failed; sending on the bus`, err);
        left.push(...list);
      }
    }),
  );
  if (left.length === 0) return;
  try {
    // A task of a jurisdiction's region goes as its id alone: its args stay in that jurisdiction's D1.
    await send(env.BUS, left, true, (s) => jurisdictionOf(env, s.region) !== null);
  } catch (err) {
    console.error('bus send failed; the redelivery sweep will carry these tasks', err);
  }
}
