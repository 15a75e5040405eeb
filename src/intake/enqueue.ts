// The one way tasks come in: checked, given their spec and route, recorded and handed to their
// queues. HTTP (single, batch, the producer socket) takes the fast path, enqueue; tasks the hub makes
// itself (beat, workflow steps) go record-first, the path enqueue falls back to.
import { handOff } from '../bus/handoff.ts';
import { byShard, queueObject } from '../queue/stubs.ts';
import { routed } from '../core/routes.ts';
import { route } from './routes.ts';
import type { TaskSpec } from '../core/states.ts';
import { enqueuedState, recordTasks, type Recorded } from '../db/records.ts';
import { dbOfObject, recordEverywhere } from '../db/stores.ts';
import { placeTasks } from '../core/shards.ts';
import type { Env } from '../env.ts';
import { describeIssues, parseWith } from '../protocol/parse.ts';
import { checkSize, checkTargets, toSpec } from './spec.ts';
import { DroverError } from '../protocol/errors.ts';
import { batchBody, enqueueBody, plainEnqueueBody } from '../protocol/schemas.ts';

/**
 * Records tasks in D1 first (an idempotency key's repeat is found there), then hands the new ones
 * to their queues: the way for tasks the hub makes itself (beat's slots, a workflow's next step),
 * and for an HTTP enqueue whose queue cannot take its tasks at once. Answers what D1 recorded.
 */
export async function recordFirst(env: Env, specs: TaskSpec[], now = Date.now()): Promise<Recorded> {
  // Each task's record goes to its region's jurisdiction's D1, if it is bound to one.
  const recorded = await recordEverywhere(env, placeTasks(env, specs), now);
  if (recorded.created.length) await handOff(env, recorded.created);
  return recorded;
}

/** Enqueues of this many tasks or more are written to D1 first, as before objects recorded tasks. */
const LARGE_ENQUEUE = 50;

/**
 * A 2xx means durable and found by id. Tasks with an idempotency key or an id the producer chose
 * are recorded in D1 first (it decides which are repeats), then handed to their queues. Tasks
 * without one go straight to their queue's object: they are claimable at once, so a start waits
 * for no D1 write, and the object records them in D1 itself. Over HTTP (`inD1`) the answer waits
 * for that record, so a list right after shows them. Over a producer's socket it comes once the
 * object holds them, and the record follows with the object's next write, which a read by id
 * waits for (`findRow`, src/api/tasks.ts). Large enqueues go D1 first. A queue whose object
 * cannot take them (unreachable, or its D1 writes failing) has them recorded here first and
 * sent the old way, so a failure then changes nothing.
 */
async function enqueue(env: Env, specs: TaskSpec[], inD1 = true): Promise<Recorded['results']> {
  placeTasks(env, specs);
  // A large enqueue gains little from starting before D1 has it, and its object would store it
  // twice (the task and its D1 insert): it goes D1 first too.
  if (specs.length >= LARGE_ENQUEUE || specs.some((s) => s.idempotencyKey !== null || s.chosenId)) {
    return (await recordFirst(env, specs)).results;
  }
  const now = Date.now();
  await Promise.all(
    [...byShard(env, specs)].map(async ([queue, list]) => {
      const out = await queueObject(env, queue).take(list, inD1).catch((err: unknown) => ({ refused: String(err) }));
      if ('refused' in out) {
        console.error(`queue ${queue} did not take its tasks (${out.refused}); recording them here first`);
        await recordFirst(env, list);
      } else if (out.recorded?.ok === false) {
        // The object holds them durably and writes D1 when it can; a write here now gives a list
        // right after them. If D1 fails here too they are still enqueued: the answer is 2xx.
        console.error(`queue ${queue} has not recorded its tasks in D1 yet (${out.recorded.message}); recording them here`);
        await recordTasks(dbOfObject(env, queue), list).catch((err: unknown) => console.error('D1 failed; the queue records the tasks when it can', err));
      }
    }),
  );
  return specs.map((s) => ({ id: s.id, state: enqueuedState(s, now) }));
}

/** Checks one POST /v1/tasks body (already read as JSON) and makes its task. */
function taskSpec(env: Env, raw: unknown): TaskSpec {
  const body = routed(raw as object, plainEnqueueBody(raw) ?? parseWith(enqueueBody, raw, 'task'), route);
  checkTargets(env, body);
  return toSpec(body, Date.now());
}

/** POST /v1/tasks for a body already read as JSON. */
export async function enqueueOne(env: Env, raw: unknown) {
  const [result] = await enqueue(env, [taskSpec(env, raw)]);
  return result;
}

type Enqueued = Awaited<ReturnType<typeof enqueue>>[number];

/** Tasks that wait for a write under way go together in the next one, at most this many (a socket has 64 in flight at most). */
const GROUP_MAX = 100;

/**
 * Single enqueues for a caller with many in flight (a producer's socket): each is checked
 * on its own, and those that arrive while a group is handed over go together in the next one,
 * each with its own answer, given once the queue's object holds it (D1's record follows). The
 * first of a quiet spell goes at once. The outcome is what one call each in arrival order gives,
 * duplicates of an idempotency key included; a failed hand-over or D1 write (a group with keys
 * goes to D1 first) fails every task of its group, as it would each call.
 */
export function groupEnqueuer(env: Env): (raw: unknown) => Promise<Enqueued> {
  const waiting: { spec: TaskSpec; ok: (r: Enqueued) => void; fail: (err: unknown) => void }[] = [];
  let writing = false;
  const write = async () => {
    writing = true;
    while (waiting.length) {
      // One turn of the event loop first: the socket's messages that already came in (a burst of
      // answers lets the producer send as many at once) join this group, rather than each going
      // alone while the first is handed over. 3-4 tasks a group became ~20 at 50 in flight.
      await scheduler.wait(0);
      const group = waiting.splice(0, GROUP_MAX);
      try {
        const results = await enqueue(env, group.map((g) => g.spec), false);
        group.forEach((g, i) => g.ok(results[i]));
      } catch (err) {
        for (const g of group) g.fail(err);
      }
    }
    writing = false;
  };
  return async (raw) => {
    const spec = taskSpec(env, raw);
    return new Promise((ok, fail) => {
      waiting.push({ spec, ok, fail });
      if (!writing) void write();
    });
  };
}

/** POST /v1/tasks/batch for a body already read as JSON: all or nothing. */
export async function enqueueBatch(env: Env, body: unknown) {
  const raw = parseWith(batchBody, body, 'batch');
  const now = Date.now();
  const specs = raw.tasks.map((entry, index) => {
    checkSize(entry, index);
    const plain = plainEnqueueBody(entry);
    const parsed = plain ? { success: true as const, data: plain } : enqueueBody.safeParse(entry);
    if (!parsed.success) {
      throw new DroverError('invalid_request', `invalid batch, nothing was enqueued: ${describeIssues(parsed.error, ['tasks', index])}`, {
        index,
        issues: parsed.error.issues.map((i) => ({ path: i.path.map(String), message: i.message })),
      });
    }
    checkTargets(env, parsed.data, `tasks[${index}]`);
    return toSpec(routed(entry as object, parsed.data, route), now);
  });
  return enqueue(env, specs);
}
