// Reading a task by id while its D1 record is still on its way from its queue's object.
import { createExecutionContext, env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import hub from '../hub.ts';
import { getTaskRow } from '../db/records.ts';
import { patchD1 } from '../../test/object-d1.ts';
import { groupEnqueuer } from '../intake/enqueue.ts';
import type { Env } from '../env.ts';

const call = async (method: string, path: string, body?: unknown): Promise<Response> =>
  hub.fetch!(
    new Request(`http://hub${path}`, {
      method,
      headers: { authorization: 'Bearer unit-admin', 'content-type': 'application/json' },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    }),
    env as never,
    createExecutionContext(),
  );

describe('GET /v1/tasks/:id', () => {
  it('answers a producer socket\'s enqueue once its object holds the task, and a read waits for the record D1 has not got yet', async () => {
    const queue = `locate-${Date.now()}`;
    let release = () => {};
    const held = new Promise<void>((r) => (release = r));
    // The object's D1 writes, held in flight.
    const restore = await patchD1(env.QUEUES.getByName(queue), {
      batch: async (statements, send) => {
        await held;
        return send(statements);
      },
    });
    try {
      // The socket's way in (GET /v1/tasks/connect).
      const { id, state } = await groupEnqueuer(env as unknown as Env)({ task: 'located', queue, args: [7] });
      expect(state).toBe('queued');
      expect(await getTaskRow(env.DB, id)).toBeUndefined();
      let answered = false;
      const read = call('GET', `/v1/tasks/${id}`).then((r) => ((answered = true), r));
      await new Promise((r) => setTimeout(r, 300));
      expect(answered).toBe(false);
      release();
      const got = await read;
      expect(got.status).toBe(200);
      expect(await got.json()).toMatchObject({ id, queue, task: 'located', args: [7], state: 'queued' });
    } finally {
      release();
      restore();
    }
  });
});
