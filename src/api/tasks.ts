// Task routes: enqueue one or a batch, read, list, revoke.
import { Hono } from 'hono';
import { holderOf } from '../queue/stubs.ts';
import { isFinal } from '../core/states.ts';
import { TASK_ID_PATTERN_ANY_CASE, taskId, ulidTime } from '../core/ids.ts';
import { findTaskRow, listEverywhere } from '../db/stores.ts';
import type { Env } from '../env.ts';
import type { AuthVars } from './auth.ts';
import { requireEnqueue } from '../protocol/principals.ts';
import { readJson } from './body.ts';
import { parseWith, refuseField } from '../protocol/parse.ts';
import { enqueueBatch, enqueueOne } from '../intake/enqueue.ts';
import { MAX_BATCH_BYTES, MAX_TASK_BYTES } from '../protocol/sizes.ts';
import { DroverError } from '../protocol/errors.ts';
import { presentTask } from './present.ts';
import { instant } from '../protocol/times.ts';
import { listQuery, waitQuery } from '../protocol/schemas.ts';
import { asState, enqueued, enqueuedBatch, taskPage, taskState, type Answer } from '../protocol/answers.ts';

export const tasks = new Hono<AuthVars>();

tasks.post('/', async (c) => {
  requireEnqueue(c.var.principal);
  const result = await enqueueOne(c.env, await readJson(c, MAX_TASK_BYTES));
  return c.json({ ...result, state: asState(result.state) } satisfies Answer<typeof enqueued>, result.duplicate ? 200 : 202);
});

tasks.post('/batch', async (c) => {
  requireEnqueue(c.var.principal);
  return c.json({ tasks: (await enqueueBatch(c.env, await readJson(c, MAX_BATCH_BYTES))).map((r) => ({ ...r, state: asState(r.state) })) } satisfies Answer<typeof enqueuedBatch>, 202);
});


tasks.get('/', async (c) => {
  requireEnqueue(c.var.principal);
  const q = parseWith(listQuery, c.req.query(), 'query');
  const since = q.since === undefined ? undefined : instant(q.since);
  const until = q.until === undefined ? undefined : instant(q.until);
  if (since !== undefined && until !== undefined && since > until) refuseField('query', 'since', 'must not be after until');
  const { rows, cursor } = await listEverywhere(c.env, { ...q, since, until });
  return c.json({ tasks: rows.map((r) => presentTask(r, null, false)), cursor } satisfies Answer<typeof taskPage>);
});

/**
 * D1's record is the answer, with no call to the task's object, once the task ended for good. A
 * failed task has not: it waits in the dead letters, and a replay runs it again before D1 hears
 * of it, so its object has the newer state.
 */
function endedForGood(row: { state: string; version: number }): boolean {
  return isFinal(row.state) && row.state !== 'failed' && row.version > 0;
}

/**
 * How long after a hub-made id's time its D1 record may still be on its way: the enqueue was
 * answered once the queue's object held the task, and the object writes D1 with its next write,
 * within about 25 ms when it is not busy, up to 200 ms on a sharded queue (src/queue/writer.ts).
 * Generous, for a busy object.
 */
const RECORD_ON_ITS_WAY_MS = 10_000;
/** Reads of D1 while waiting for a record: the first after a few ms, then further apart, up to this. */
const LONGEST_PAUSE_MS = 250;

/**
 * The task's D1 record. A task answered moments ago may be held by its queue's object alone for
 * a few ms: a ULID made less than RECORD_ON_ITS_WAY_MS ago that D1 does not hold yet is read
 * again until it does, so a read right after an enqueue's 2xx finds the task. Other ids D1 does
 * not hold are 404 at once.
 */
async function findRow(env: Env, id: string) {
  const key = TASK_ID_PATTERN_ANY_CASE.test(id) ? taskId(id) : null;
  const made = key === null ? null : ulidTime(key);
  for (let pause = 4; key !== null; pause = Math.min(pause * 2, LONGEST_PAUSE_MS)) {
    const row = await findTaskRow(env, key);
    if (row) return row;
    const now = Date.now();
    // A time ahead of the clock is no id this hub made just now.
    if (made === null || made > now + 1000 || now + pause > made + RECORD_ON_ITS_WAY_MS) break;
    await scheduler.wait(pause);
  }
  throw new DroverError('not_found', `no task has the id "${id.slice(0, 64)}"`);
}

tasks.get('/:id', async (c) => {
  requireEnqueue(c.var.principal);
  const { wait } = parseWith(waitQuery, c.req.query(), 'query');
  const row = await findRow(c.env, c.req.param('id'));
  if (endedForGood(row)) return c.json(presentTask(row, null));
  const live = await (await holderOf(c.env, row)).waitFor(row.id, Math.round((wait ?? 0) * 1000));
  return c.json(presentTask(row, live));
});

tasks.post('/:id/revoke', async (c) => {
  requireEnqueue(c.var.principal);
  const row = await findRow(c.env, c.req.param('id'));
  if (endedForGood(row)) throw new DroverError('conflict', `the task is already ${row.state}`);
  const holder = await holderOf(c.env, row);
  // A failed task its queue no longer holds (a purged dead letter) ended for good too.
  if (row.state === 'failed' && row.version > 0 && !(await holder.get(row.id))) throw new DroverError('conflict', `the task is already ${row.state}`);
  const out = await holder.revoke(row.id);
  if (!out.ok) throw new DroverError(out.code, out.message);
  return c.json({ state: asState(out.state) } satisfies Answer<typeof taskState>);
});
