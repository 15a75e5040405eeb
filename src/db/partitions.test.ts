// Which D1 partition a queue object writes to: one per object, stable, and a sharded queue's shards spread.
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { partitionCount, partitionDbs, partitionOf } from './partitions.ts';
import { dbOfObject, everyStore } from './stores.ts';
import { shardName } from '../core/shards.ts';

describe('D1 partitions', () => {
  it('reads DROVER_D1_PARTITIONS, one by default, and refuses a count that could never apply', () => {
    expect(partitionCount({})).toBe(1);
    expect(partitionCount({ DROVER_D1_PARTITIONS: ' 4 ' })).toBe(4);
    for (const bad of ['0', '17', '2.5', 'four', '-1']) expect(() => partitionCount({ DROVER_D1_PARTITIONS: bad })).toThrow(/DROVER_D1_PARTITIONS must be a whole number, 1-16/);
  });

  it("puts a sharded queue's shards on different partitions, and every object always on the same one", () => {
    const names = Array.from({ length: 4 }, (_, i) => shardName('bench-drain', i));
    expect(new Set(names.map((n) => partitionOf(n, 4))).size).toBe(4);
    expect(names.map((n) => partitionOf(n, 4))).toEqual(names.map((n) => partitionOf(n, 4)));
    expect(names.map((n) => partitionOf(n, 1))).toEqual([0, 0, 0, 0]);
    // Many queues' first shards spread over the partitions too.
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 400; i++) counts[partitionOf(`queue-${i}`, 4)]++;
    expect(Math.min(...counts)).toBeGreaterThan(60);
  });

  it('gives each object its partition\'s database, and reads every partition and jurisdiction', () => {
    const four = { ...env, DROVER_D1_PARTITIONS: '4' };
    const dbs = partitionDbs(four);
    expect(dbs).toEqual([env.DB, env.DB_P1, env.DB_P2, env.DB_P3]);
    expect(dbOfObject(four, 'bench-drain~2')).toBe(dbs[partitionOf('bench-drain~2', 4)]);
    // An object in a jurisdiction keeps its jurisdiction's one database.
    expect(dbOfObject(four, 'eu:bench-drain~2')).toBe(env.DB_EU);
    expect(everyStore(four).map((s) => s.jurisdiction)).toEqual([null, null, null, null, 'eu']);
    expect(dbOfObject(env, 'bench-drain~2')).toBe(env.DB);
  });

  it('says which binding is missing when the count asks for more than wrangler.toml has', () => {
    expect(() => partitionDbs({ ...env, DROVER_D1_PARTITIONS: '6' })).toThrow(/no D1 binding DB_P4/);
  });
});
