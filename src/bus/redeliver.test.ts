// The redelivery sweep, driven through the scheduled handler: recorded tasks the bus dropped reach their queue.
import { createExecutionContext, createScheduledController, env, waitOnExecutionContext } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import worker from '../hub.ts';
import { taskSpec } from '../../test/specs.ts';
import { getTaskRow, recordTasks } from '../db/records.ts';

describe('the redelivery sweep', () => {
  it('puts a recorded task that never reached its QueueObject on the bus again', async () => {
    const now = Date.now();
    const { id } = taskSpec({ createdAt: now });
    // Recorded by the hub, but the bus message was lost (as on a crash).
    await recordTasks(env.DB, [taskSpec({ id, task: 'lost', queue: 'swept', createdAt: now })]);
    const stub = env.QUEUES.getByName('swept');
    expect((await stub.stats()).ready).toBe(0);

    // A trigger before the cut-off leaves it alone: it may still be on the bus.
    let ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ scheduledTime: now + 1000, cron: '* * * * *' }), env, ctx);
    await waitOnExecutionContext(ctx);
    await new Promise((r) => setTimeout(r, 300));
    expect((await stub.stats()).ready).toBe(0);

    ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ scheduledTime: now + 600_000, cron: '* * * * *' }), env, ctx);
    await waitOnExecutionContext(ctx);
    const deadline = Date.now() + 5000;
    while ((await stub.stats()).ready === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect((await stub.stats()).ready).toBe(1);
    // Once the object confirms it, D1 knows it was delivered and the sweep stops sending it.
    while (((await getTaskRow(env.DB, id))?.version ?? 0) === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect((await getTaskRow(env.DB, id))!.version).toBeGreaterThan(0);
  });
});
