// Sharded queues (DROVER_SHARDS; the unit config gives queues named sharded-* three shards):
// tasks spread over the shards, and any shard's claims hand out all of them, waking on a sibling's work.
import { env, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { taskSpec } from '../../test/specs.ts';
import { handOff } from '../bus/handoff.ts';
import { compileShards, parseShardName, placeTasks, shardName, shardNames, shardOf, taskShardName } from '../core/shards.ts';
import { getTaskRow, recordTasks, rowToSpec } from '../db/records.ts';
import type { TaskSpec } from '../core/states.ts';
import { everyShard, holderOf, queueObject, queueStats } from './stubs.ts';
import { flushGap } from './writer.ts';
import { until } from '../../test/until.ts';
import { patchD1 } from '../../test/object-d1.ts';
import { eventsObject } from '../events/EventsObject.ts';
import type { ClaimRequest } from './transitions.ts';

/** Records every wait the object's D1 writer takes for company (`scheduler.wait`), still waiting them. */
async function recordWaits(stub: DurableObjectStub, waits: number[]): Promise<() => void> {
  let restore = () => {};
  await runInDurableObject(stub, () => {
    const s = scheduler as unknown as { wait: (ms: number, ...rest: unknown[]) => Promise<void> };
    const wait = s.wait;
    s.wait = (ms, ...rest) => (waits.push(ms), wait.call(s, ms, ...rest));
    restore = () => void (s.wait = wait);
  });
  return restore;
}

let counter = 0;
const sharded = () => `sharded-${Date.now().toString(36)}-${counter++}`;
const req = (queue: string, over: Partial<ClaimRequest> = {}): ClaimRequest => ({
  queue, worker: 'w', region: null, tasks: null, max: 100, leaseSeconds: null, owner: null, ...over,
});
/** Tasks of `queue`, at least `each` on every one of its three shards. */
function spread(queue: string, each: number): TaskSpec[] {
  const specs: TaskSpec[] = [];
  const per = [0, 0, 0];
  while (Math.min(...per) < each) {
    const s = taskSpec({ queue });
    specs.push(s);
    per[shardOf(s, 3)]++;
  }
  return specs;
}
const onShard = (queue: string, shard: number, over: Partial<TaskSpec> = {}) => {
  for (;;) {
    const s = taskSpec({ queue, ...over });
    if (shardOf(s, 3) === shard) return s;
  }
};

describe('the shard table', () => {
  it('reads exact names, then globs in order, and gives other queues one shard', () => {
    const table = compileShards('{"scrape": 8, "crawl-*": 4, "*-eu": 2}');
    expect(['scrape', 'crawl-cn', 'shop-eu', 'crawl-eu', 'other'].map(table)).toEqual([8, 4, 2, 4, 1]);
    expect(compileShards(undefined)('scrape')).toBe(1);
    expect(compileShards('')('scrape')).toBe(1);
  });

  it('refuses a table that could never be applied', () => {
    expect(() => compileShards('{"scrape": 0}')).toThrow(/1-64/);
    expect(() => compileShards('{"scrape": 65}')).toThrow(/1-64/);
    expect(() => compileShards('{"scrape": 2.5}')).toThrow(/whole number/);
    expect(() => compileShards('{"Scrape!": 2}')).toThrow(/not a queue name/);
    expect(() => compileShards('[4]')).toThrow(/JSON object/);
    expect(() => compileShards('scrape=4')).toThrow(/not JSON/);
    expect(() => compileShards('{"Scrape-*": 2}')).toThrow(/not a queue name or glob/);
    // The same bad table fails every call alike.
    expect(() => compileShards('{"scrape": 0}')).toThrow(/1-64/);
  });

  it('keeps a task on the shard it was placed on at enqueue, in D1 too, while that shard exists', async () => {
    const queue = sharded();
    const spec = onShard(queue, 1);
    placeTasks(env, [spec]);
    expect(spec.shard).toBe(1);
    // Recorded, and read back as the redelivery sweep reads it, it still goes to shard 1.
    await recordTasks(env.DB, [spec]);
    const row = (await getTaskRow(env.DB, spec.id))!;
    expect(row.shard).toBe(1);
    expect(taskShardName(env, rowToSpec(row))).toBe(shardName(queue, 1));
    // Placed when the queue had more shards, or fewer: its shard wins while it exists.
    expect(taskShardName(env, { ...spec, shard: 2 })).toBe(shardName(queue, 2));
    expect(taskShardName(env, { ...spec, shard: 7 })).toBe(shardName(queue, 1));
  });

  it('names shard 0 as the queue, so adding shards moves no task that was there', () => {
    expect(shardNames(env, 'sharded-x')).toEqual(['sharded-x', 'sharded-x~1', 'sharded-x~2']);
    expect(shardNames(env, 'plain')).toEqual(['plain']);
    expect(parseShardName('sharded-x~2')).toEqual({ queue: 'sharded-x', shard: 2, jurisdiction: null });
    expect(parseShardName('eu:sharded-x~2')).toEqual({ queue: 'sharded-x', shard: 2, jurisdiction: 'eu' });
    expect(parseShardName('plain')).toEqual({ queue: 'plain', shard: 0, jurisdiction: null });
    expect(parseShardName('plain~0')).toBeNull();
  });

  it('keeps a group or an ordering key on one shard, and spreads the rest', () => {
    const byKey = Array.from({ length: 50 }, () => shardOf(taskSpec({ orderingKey: 'customer-7' }), 8));
    expect(new Set(byKey).size).toBe(1);
    const byGroup = Array.from({ length: 50 }, () => shardOf(taskSpec({ groupKey: 'tenant-3', groupLimit: 2 }), 8));
    expect(new Set(byGroup).size).toBe(1);
    // A repeat of an idempotency key goes where its first went (and so to the D1 that recorded it).
    const byIdempotency = Array.from({ length: 50 }, () => shardOf(taskSpec({ idempotencyKey: 'order-42' }), 8));
    expect(new Set(byIdempotency).size).toBe(1);
    expect(new Set(Array.from({ length: 50 }, (_, i) => shardOf(taskSpec({ idempotencyKey: `order-${i}` }), 8))).size).toBeGreaterThan(4);
    const counts = new Array(8).fill(0);
    for (let i = 0; i < 8000; i++) counts[shardOf(taskSpec(), 8)]++;
    // An even spread puts 1,000 on each; none is far off.
    expect(Math.min(...counts)).toBeGreaterThan(800);
    expect(Math.max(...counts)).toBeLessThan(1200);
  });
});

describe('a sharded queue', () => {
  it('holds each task on its shard, and one shard hands out all of them and takes their acks', async () => {
    const queue = sharded();
    const specs = spread(queue, 5);
    await handOff(env, specs);
    // The shards outside, then the queue's shards in the EU (weur's jurisdiction), which hold none of these.
    const per = await everyShard(env, queue, (o) => o.stats());
    expect(per.map((s) => s.ready)).toEqual([...[0, 1, 2].map((i) => specs.filter((s) => shardOf(s, 3) === i).length), 0, 0, 0]);
    expect((await queueStats(env, queue)).ready).toBe(specs.length);

    const home = queueObject(env, queue);
    const jobs = [];
    for (let i = 0; i < 10 && jobs.length < specs.length; i++) jobs.push(...(await home.claim(req(queue), 0)));
    expect(jobs.map((j) => j.id).sort()).toEqual(specs.map((s) => s.id).sort());
    // Each lease names the shard that gave it out.
    expect(new Set(jobs.map((j) => j.lease_id.split('.')[0]))).toEqual(new Set(shardNames(env, queue)));
    const outs = await Promise.all(jobs.map((j) => home.ack(j.lease_id, null, '"done"')));
    expect(outs.every((o) => o.ok)).toBe(true);
    const live = await Promise.all(jobs.map((j) => queueObject(env, j.lease_id.split('.')[0]).get(j.id)));
    expect(live.map((t) => t?.state)).toEqual(jobs.map(() => 'succeeded'));
    expect(await queueStats(env, queue)).toMatchObject({ ready: 0, running: 0 });
  });

  it('lists a worker once, with the jobs in hand it took from every shard', async () => {
    const queue = sharded();
    const specs = spread(queue, 2);
    await handOff(env, specs);
    const worker = `lister-${queue}`;
    const jobs = [];
    for (let i = 0; i < 10 && jobs.length < specs.length; i++) jobs.push(...(await queueObject(env, queue).claim(req(queue, { worker }), 0)));
    expect(jobs).toHaveLength(specs.length);
    const deadline = Date.now() + 5000;
    let seen;
    do {
      seen = (await eventsObject(env).workers()).find((w) => w.name === worker);
      if (seen?.inHand === specs.length) break;
      await new Promise((r) => setTimeout(r, 50));
    } while (Date.now() < deadline);
    expect(seen).toMatchObject({ name: worker, queues: [queue], inHand: specs.length });
  });

  it('takes turns between shards, so no shard waits behind a busy one', async () => {
    const queue = sharded();
    await handOff(env, spread(queue, 10));
    const home = queueObject(env, queue);
    const from: string[] = [];
    for (let i = 0; i < 6; i++) from.push(...(await home.claim(req(queue, { max: 1 }), 0)).map((j) => j.lease_id.split('.')[0]));
    expect(from).toHaveLength(6);
    expect(new Set(from).size).toBe(3);
  });

  it('wakes a claim waiting on one shard when work arrives on another', async () => {
    const queue = sharded();
    const spec = onShard(queue, 2);
    const t0 = Date.now();
    const waiting = queueObject(env, queue).claim(req(queue), 10_000);
    await new Promise((r) => setTimeout(r, 200));
    await handOff(env, [spec]);
    const jobs = await waiting;
    expect(jobs.map((j) => j.id)).toEqual([spec.id]);
    expect(jobs[0].lease_id.startsWith(`${shardName(queue, 2)}.`)).toBe(true);
    expect(Date.now() - t0).toBeLessThan(3000);
  });

  it('wakes a claim for work that came to its own shard while it was asking the others', async () => {
    const queue = sharded();
    const home = queueObject(env, queue);
    const spec = onShard(queue, 0);
    const t0 = Date.now();
    // The claim (first on a new object: its own shard's turn) finds nothing here, then asks the
    // other shards; the task comes meanwhile, and its wake finds no claim waiting yet.
    const [jobs] = await Promise.all([home.claim(req(queue), 5000), home.deliver([spec])]);
    expect(jobs.map((j) => j.id)).toEqual([spec.id]);
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it('splits a concurrency limit among its shards', async () => {
    const queue = sharded();
    await handOff(env, spread(queue, 5));
    await everyShard(env, queue, (o) => o.configure({ concurrency: 4 }));
    const leased = [];
    for (const name of shardNames(env, queue)) for (let i = 0; i < 3; i++) leased.push(...(await queueObject(env, name).claim(req(queue), 0)));
    expect(leased).toHaveLength(4);
    // A finished lease frees a slot on its own shard, and a claim anywhere finds it.
    expect((await queueObject(env, queue).ack(leased[0].lease_id, null, 'null')).ok).toBe(true);
    const more = await queueObject(env, shardName(queue, 1)).claim(req(queue), 1000);
    expect(more).toHaveLength(1);
    expect(more[0].lease_id.split('.')[0]).toBe(leased[0].lease_id.split('.')[0]);
  });

  it('writes D1 a gap for each of its shards after a change, so its shards together write about as often as one object', async () => {
    // Three shards: a shard waits 3 × 25 ms for company before a write nobody waits on.
    const queue = sharded();
    const spec = onShard(queue, 1);
    const stub = queueObject(env, shardName(queue, 1));
    let written: number | null = null;
    const restore = await patchD1(stub, { bound: (values) => void (written ??= values.some((v) => typeof v === 'string' && v.includes(spec.id)) ? Date.now() : null) });
    try {
      const t0 = Date.now();
      expect(await stub.take([spec])).toMatchObject({ added: 1 });
      expect(await until(() => getTaskRow(env.DB, spec.id), (r) => r !== undefined)).toMatchObject({ queue, version: 1 });
      expect(written! - t0).toBeGreaterThanOrEqual(75);
    } finally {
      restore();
    }
    // However many shards, up to 200 ms.
    expect([flushGap(1, false), flushGap(8, false), flushGap(64, false), flushGap(64, true)]).toEqual([25, 200, 200, 25]);
  });

  it('keeps the one gap for a write a workflow waits on, on a sharded queue too', async () => {
    const queue = sharded();
    const stub = queueObject(env, shardName(queue, 1));
    const plain = onShard(queue, 1);
    const step = onShard(queue, 1, { workflowId: `wf-${queue}` });
    const waits: number[] = [];
    const restore = await recordWaits(stub, waits);
    try {
      await stub.take([plain, step]);
      await until(() => getTaskRow(env.DB, step.id), (r) => r !== undefined);
      expect([...new Set(waits)]).toEqual([75]);
      waits.length = 0;
      const jobs = await stub.claim(req(queue), 0);
      const job = jobs.find((j) => j.id === step.id)!;
      expect((await stub.ack(job.lease_id, null, '"done"')).ok).toBe(true);
      expect(await until(() => getTaskRow(env.DB, step.id), (r) => r?.state === 'succeeded')).toMatchObject({ state: 'succeeded' });
      // The claim's write may have started its 75 ms gap: the end cuts it to 25 ms.
      expect(waits).toContain(25);
    } finally {
      restore();
    }
  });

  it('gives a shard that starts later the settings and pause of shard 0', async () => {
    const queue = sharded();
    await queueObject(env, queue).configure({ concurrency: 6, rateLimit: '30/s' });
    await queueObject(env, queue).setPaused(true);
    const later = await queueObject(env, shardName(queue, 2)).stats();
    expect(later.paused).toBe(true);
    expect(later.config).toMatchObject({ concurrency: 6, rateLimit: '30/s' });
  });

  it('finds a task that came before the shards did, on the shard that has it', async () => {
    const queue = sharded();
    const spec = onShard(queue, 1);
    // As if the queue had one shard when the task came: it sits on shard 0.
    await queueObject(env, queue).deliver([spec]);
    const holder = await holderOf(env, spec);
    expect((await holder.revoke(spec.id)).ok).toBe(true);
    expect((await queueObject(env, queue).get(spec.id))?.state).toBe('revoked');
    expect(await queueObject(env, shardName(queue, 1)).get(spec.id)).toBeNull();
  });
});
