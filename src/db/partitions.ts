// The hub's task records spread over several D1 databases (DROVER_D1_PARTITIONS): which one an object writes to.
import { fnv1a, parseShardName } from '../core/shards.ts';

/**
 * At most this many partitions. A D1 database is one writer (DESIGN.md): each partition adds one,
 * and every read of all records (a list, stats, retention) asks each of them.
 */
export const MAX_PARTITIONS = 16;

/** The partitions' bindings: DB is partition 0, DB_P1 .. DB_P{N-1} the others. */
export type PartitionEnv = { DB: D1Database; DROVER_D1_PARTITIONS?: string } & { [binding: `DB_P${number}`]: D1Database | undefined };

/** How many D1 databases hold the hub's own task records (DROVER_D1_PARTITIONS, default 1). Throws on a value that could never apply. */
export function partitionCount(env: { DROVER_D1_PARTITIONS?: string }): number {
  const text = env.DROVER_D1_PARTITIONS?.trim() ?? '';
  if (text === '') return 1;
  const n = Number(text);
  if (!(/^[0-9]+$/.test(text) && n >= 1 && n <= MAX_PARTITIONS)) throw new Error(`DROVER_D1_PARTITIONS must be a whole number, 1-${MAX_PARTITIONS}: "${text.slice(0, 20)}"`);
  return n;
}

/** The binding of partition i. */
export function partitionBinding(i: number): string {
  return i === 0 ? 'DB' : `DB_P${i}`;
}

/** Whether a D1 binding is in use with `count` partitions: every binding but the partitions past the count. */
export function bindingInUse(binding: string, count: number): boolean {
  const partition = /^DB_P(\d+)$/.exec(binding);
  return !partition || Number(partition[1]) < count;
}

/** The D1 database of partition i; throws if wrangler.toml lacks its binding. */
export function partitionDb(env: PartitionEnv, i: number): D1Database {
  const db = i === 0 ? env.DB : env[`DB_P${i}`];
  if (!db) throw new Error(`DROVER_D1_PARTITIONS is ${partitionCount(env)}, but there is no D1 binding ${partitionBinding(i)}`);
  return db;
}

/** Every partition's database, partition 0 (DB) first. */
export function partitionDbs(env: PartitionEnv): D1Database[] {
  return Array.from({ length: partitionCount(env) }, (_, i) => partitionDb(env, i));
}

/**
 * The partition a queue object (outside any jurisdiction) writes all its tasks' records to: its
 * queue's hash plus its shard number, so a sharded queue's shards write to different databases
 * (4 shards over 4 partitions: one each). Stable while the count stays: changing the count moves
 * objects to other databases, away from the records they wrote (docs/operations.md).
 */
export function partitionOf(objectName: string, count: number): number {
  if (count <= 1) return 0;
  const parsed = parseShardName(objectName);
  return ((fnv1a(parsed?.queue ?? objectName) % count) + (parsed?.shard ?? 0)) % count;
}
