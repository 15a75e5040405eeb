// Queue routes: stats, pause and resume, purge of waiting tasks, dead letters and their replay.
import { Hono, type Context } from 'hono';
import { everyDb, queueNamesEverywhere } from '../db/stores.ts';
import { everyShard, mergeKeys, queueObject, queueStats } from '../queue/stubs.ts';
import { objectNames, shardCount } from '../core/shards.ts';
import { parseRate } from '../core/limits.ts';
import { DroverError } from '../protocol/errors.ts';
import type { z } from 'zod';
import type { Env } from '../env.ts';
import { audit } from './audit.ts';
import type { AuthVars } from './auth.ts';
import { requireAdmin } from '../protocol/principals.ts';
import { readJson } from './body.ts';
import { parseWith } from '../protocol/parse.ts';
import { presentDead } from './present.ts';
import { deadQuery, keysQuery, queueConfigBody, replayBody } from '../protocol/schemas.ts';
import { queueName } from '../protocol/fields.ts';
import { configured, keyList, deadList, deadPurged, paused as pausedAnswer, purged as purgedAnswer, queueList, replayed as replayedAnswer, type Answer } from '../protocol/answers.ts';
import type { QueueRecord } from '../protocol/records.ts';
import type { QueueConfig } from '../queue/types.ts';

export const queues = new Hono<AuthVars>();

const sum = (counts: number[]) => counts.reduce((a, b) => a + b, 0);

type Config = QueueConfig;

/** A queue's settings as the API shows and takes them: durations in seconds. */
function presentConfig(c: Config) {
  return {
    retentionSeconds: c.retentionMs === null ? null : c.retentionMs / 1000, rateLimit: c.rateLimit, concurrency: c.concurrency,
    taskRateLimits: c.taskRateLimits ?? null, keyLimits: c.keyLimits ?? null,
  };
}

/** The queue named in the path, checked. */
export function queueOf(c: Context<AuthVars>): string {
  return parseWith(queueName, c.req.param('queue'), 'queue name');
}

/** The dead letters a replay or purge names: its body's ids, or all when it sends none. */
async function deadLetterIds(c: Context<AuthVars>, what: string): Promise<string[] | null> {
  const hasBody = c.req.header('content-length') !== '0' && c.req.raw.body !== null;
  return hasBody ? (parseWith(replayBody, await readJson(c, 1024 * 1024), what).ids ?? null) : null;
}

async function describe(env: Env, name: string) {
  const { config, ...stats } = await queueStats(env, name);
  return { name, ...stats, config: presentConfig(config) };
}

queues.get('/', async (c) => {
  const names = await queueNamesEverywhere(c.env);
  return c.json({ queues: await Promise.all(names.map((n) => describe(c.env, n))) } satisfies Answer<typeof queueList>);
});

queues.get('/:queue', async (c) => {
  const name = queueOf(c);
  return c.json((await describe(c.env, name)) satisfies QueueRecord);
});

/** A queue's rate keys, ascending: those with tasks waiting or running, paused, or below their configured rate. */
queues.get('/:queue/keys', async (c) => {
  const name = queueOf(c);
  const { limit, cursor } = parseWith(keysQuery, c.req.query(), 'query');
  const keys = mergeKeys((await everyShard(c.env, name, (o) => o.keys(cursor ?? null, limit))).flat());
  const page = keys.slice(0, limit);
  return c.json({ keys: page, nextCursor: keys.length > limit ? page[page.length - 1].key : null } satisfies Answer<typeof keyList>);
});

for (const action of ['pause', 'resume'] as const) {
  queues.post(`/:queue/${action}`, async (c) => {
    requireAdmin(c.var.principal);
    const name = queueOf(c);
    const paused = (await everyShard(c.env, name, (o) => o.setPaused(action === 'pause')))[0];
    await audit(c, `queue.${action}`, name);
    return c.json({ name, paused } satisfies Answer<typeof pausedAnswer>);
  });
}

queues.get('/:queue/dead', async (c) => {
  requireAdmin(c.var.principal);
  const name = queueOf(c);
  const { limit } = parseWith(deadQuery, c.req.query(), 'query');
  const dead = (await everyShard(c.env, name, (o) => o.dead(limit))).flat().sort((a, b) => (b.finishedAt ?? 0) - (a.finishedAt ?? 0)).slice(0, limit);
  return c.json({ tasks: dead.map((d) => presentDead(d, name)) } satisfies Answer<typeof deadList>);
});

queues.post('/:queue/dead/replay', async (c) => {
  requireAdmin(c.var.principal);
  const name = queueOf(c);
  const ids = await deadLetterIds(c, 'replay');
  const replayed = sum(await everyShard(c.env, name, (o) => o.replay(ids)));
  // What changed nothing leaves nothing behind, in the audit log neither.
  if (replayed > 0) await audit(c, 'dead.replay', name, { ids: ids ?? 'all', replayed });
  return c.json({ replayed } satisfies Answer<typeof replayedAnswer>);
});

/** Purges dead letters (all, or the given ids): they are gone from the queue; their D1 record stays. */
queues.delete('/:queue/dead', async (c) => {
  requireAdmin(c.var.principal);
  const name = queueOf(c);
  const ids = await deadLetterIds(c, 'purge');
  const purged = sum(await everyShard(c.env, name, (o) => o.purgeDead(ids)));
  if (purged > 0) await audit(c, 'dead.purge', name, { ids: ids ?? 'all', purged });
  return c.json({ purged } satisfies Answer<typeof deadPurged>);
});

/**
 * A purge ends at most this many tasks per call on a shard, in one transaction of the shard's
 * object: about what its alarm does per wake, so claims and acks wait behind it only briefly.
 */
const PURGE_BATCH = 1000;
/**
 * Calls on the queue's objects one purge request makes at most, well under a Worker request's
 * subrequest limit (1,000 on the paid plan): rounds of one call to each object that still has
 * waiting tasks, while the calls left cover a round. An object with none (a queue's objects in a
 * jurisdiction often have none) costs one call, so one request purges up to 63,000 tasks of an
 * unsharded queue; beyond, it answers `more: true`.
 */
const PURGE_CALLS = 64;

/** Ends the queue's waiting tasks (queued or delayed, not running) revoked, every shard's. */
queues.post('/:queue/purge', async (c) => {
  requireAdmin(c.var.principal);
  const name = queueOf(c);
  const shards = objectNames(c.env, name).map((object) => ({ object, purged: 0, more: true }));
  for (let left = PURGE_CALLS; ; ) {
    const open = shards.filter((s) => s.more);
    if (open.length === 0 || open.length > left) break;
    left -= open.length;
    await Promise.all(
      open.map(async (s) => {
        const out = await queueObject(c.env, s.object).purge(PURGE_BATCH);
        s.purged += out.purged;
        s.more = out.more;
      }),
    );
  }
  const purged = sum(shards.map((s) => s.purged));
  const more = shards.some((s) => s.more);
  if (purged > 0) await audit(c, 'queue.purge', name, { purged, more });
  return c.json({ name, purged, more } satisfies Answer<typeof purgedAnswer>);
});

/**
 * A sharded queue's limits are split evenly among its shards, each needing one slot (or one
 * task per period) at least: a smaller limit could not hold for the queue as a whole.
 */
function checkShardedLimits(env: Env, queue: string, body: z.output<typeof queueConfigBody>): void {
  const n = shardCount(env, queue);
  if (n === 1) return;
  if (body.concurrency != null && body.concurrency < n) {
    throw new DroverError('invalid_request', `queue "${queue}" has ${n} shards, so its concurrency must be at least ${n} (one per shard)`);
  }
  const rates = [['rateLimit', body.rateLimit], ...Object.entries(body.taskRateLimits ?? {}).map(([task, r]) => [`taskRateLimits["${task}"]`, r])];
  for (const [field, rate] of rates) {
    const parsed = typeof rate === 'string' ? parseRate(rate) : null;
    if (parsed && parsed.burst < n) {
      throw new DroverError('invalid_request', `queue "${queue}" has ${n} shards, so ${field} must allow at least ${n} tasks per period (one per shard); "${rate}" allows ${parsed.burst}`);
    }
  }
}

/** Sets a queue's retention, rate limit and concurrency limit (admin). */
queues.put('/:queue/config', async (c) => {
  requireAdmin(c.var.principal);
  const name = queueOf(c);
  const body = parseWith(queueConfigBody, await readJson(c, 64 * 1024), 'queue config');
  const patch = {
    ...(body.retentionSeconds !== undefined && { retentionMs: body.retentionSeconds === null ? null : Math.round(body.retentionSeconds * 1000) }),
    ...(body.rateLimit !== undefined && { rateLimit: body.rateLimit }),
    ...(body.concurrency !== undefined && { concurrency: body.concurrency }),
    ...(body.taskRateLimits !== undefined && { taskRateLimits: body.taskRateLimits }),
    ...(body.keyLimits !== undefined && { keyLimits: body.keyLimits }),
  };
  checkShardedLimits(c.env, name, body);
  // Shard 0 first; the others then take its whole result, so every shard has the same settings.
  const [first, ...rest] = objectNames(c.env, name);
  const config = await queueObject(c.env, first).configure(patch);
  await Promise.all(rest.map((shard) => queueObject(c.env, shard).configure(config)));
  // Each D1 (the hub's, each jurisdiction's) sweeps its own records by the queue's retention.
  for (const db of everyDb(c.env)) {
    await db
      .prepare(`INSERT INTO queues (name, created_at, retention_ms) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET retention_ms = excluded.retention_ms`)
      .bind(name, Date.now(), config.retentionMs)
      .run();
  }
  await audit(c, 'queue.config', name, body);
  return c.json({ name, config: presentConfig(config) } satisfies Answer<typeof configured>);
});
