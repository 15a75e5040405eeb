// A queue object's storage and name: its tables, made at its first write, and the queue and shard it serves.
import type { Env } from '../env.ts';
import { Sql, type SqlValue } from '../db/sql.ts';
import { claimNames, jurisdictionOfObject, parseShardName, shardNames } from '../core/shards.ts';
import { migrate } from './tables.ts';
import { logAllHeld } from './sync.ts';

export class Store {
  readonly sql: Sql;
  /**
   * The object has its tables: it was written to. Until something is (tasks, settings, a pause),
   * it makes none, and answers every read and every lease call as an empty queue does: a
   * Durable Object that never stores anything leaves nothing behind, so a claim, a read, or a
   * made-up lease id naming a queue or shard that does not exist costs no storage.
   */
  stored: boolean;
  /** This object's queue name: from its id, else learnt from the first call that names it. */
  name: string | null = null;
  /** Its own name: the queue's, or `queue~i` for shard i > 0 (lease ids carry it). */
  objectName: string | null = null;
  /** The name came from the object's id, which calls cannot change. */
  private namedById = false;
  /** `shardPlace()`, for the object name it was worked out for. */
  private place: { of: string; names: string[]; index: number } | null = null;
  /** `claimPlace()` by region, for the object name they were worked out for. */
  private claimPlaces = new Map<string, { names: string[]; index: number }>();
  private claimPlacesOf: string | null = null;

  constructor(
    storage: DurableObjectStorage,
    private readonly env: Env,
  ) {
    this.sql = new Sql(storage.sql);
    this.stored = this.sql.hasTable('tasks');
  }

  /** At start: brings the tables up to date and reads the name. Answers what the object's id names, if it names anything. */
  open(idName: string | undefined): ReturnType<typeof parseShardName> {
    if (this.stored) {
      migrate(this.sql);
      // The lazy `running` of leases given out before a restart was in memory (Alarm `lazy`): D1 gets all held now.
      logAllHeld(this.sql);
    }
    this.name = this.meta('name') ?? null;
    this.objectName = this.meta('object') ?? this.name;
    // A named id says which queue and shard this is (an alarm may wake the object without it).
    const named = idName ? parseShardName(idName) : null;
    if (named) {
      this.namedById = true;
      if (this.objectName !== idName) this.remember(named.queue, idName!);
    }
    return named;
  }

  /** A value of the meta table; none while the object has no tables. */
  meta(key: string): string | undefined {
    return this.stored ? this.sql.one<{ value: string }>(`SELECT value FROM meta WHERE key = ?`, key)?.value : undefined;
  }

  /** Rows of a read; an object without tables has none. */
  rows<T>(query: string, ...params: SqlValue[]): T[] {
    return this.stored ? this.sql.all<T>(query, ...params) : [];
  }

  /** Makes the tables, with the name (the object's settings are its owner's to write). */
  make(): void {
    migrate(this.sql);
    this.stored = true;
    if (this.name !== null) this.remember(this.name, this.objectName ?? this.name);
  }

  learnName(queue: string): void {
    if (this.namedById || this.name === queue) return;
    this.remember(queue, queue);
  }

  private remember(queue: string, objectName: string): void {
    this.name = queue;
    this.objectName = objectName;
    if (this.stored) this.sql.run(`INSERT INTO meta (key, value) VALUES ('name', ?), ('object', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, queue, objectName);
  }

  /**
   * This shard's place among its queue's shards (0 of 1 for a queue that has one). Every claim
   * asks, so it is worked out once per name (the shard table is fixed for the deploy).
   */
  shardPlace(): { names: string[]; index: number } {
    if (this.name === null || this.objectName === null) return { names: [], index: 0 };
    if (this.place?.of !== this.objectName) {
      // The shards of its own jurisdiction (or outside any): a queue's limits are split among them.
      const names = shardNames(this.env, this.name, jurisdictionOfObject(this.objectName));
      const index = names.indexOf(this.objectName);
      // A shard no longer declared still hands out its own work (and takes turns with no one).
      this.place = index < 0 ? { of: this.objectName, names: [this.objectName], index: 0 } : { of: this.objectName, names, index };
    }
    return this.place;
  }

  /**
   * The objects a claim of `region` made here takes from, and this one's place among them: its
   * shards, and for a region bound to a jurisdiction the shards there and outside (its lane lives
   * in the one, the untagged lane in the other).
   */
  claimPlace(region: string | null): { names: string[]; index: number } {
    if (this.name === null || this.objectName === null) return { names: [], index: 0 };
    if (this.claimPlacesOf !== this.objectName) {
      this.claimPlaces.clear();
      this.claimPlacesOf = this.objectName;
    }
    const key = region ?? '';
    let place = this.claimPlaces.get(key);
    if (!place) {
      const names = claimNames(this.env, this.name, region);
      const index = names.indexOf(this.objectName);
      place = index < 0 ? { names: [this.objectName], index: 0 } : { names, index };
      this.claimPlaces.set(key, place);
    }
    return place;
  }
}
