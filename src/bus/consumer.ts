// The bus consumer: hands each batch's tasks to the QueueObject of their queue, at least once.
import type { TaskSpec } from '../core/states.ts';
import { loadSpecs } from '../db/records.ts';
import { everyDb, recordEverywhere } from '../db/stores.ts';
import type { Env } from '../env.ts';
import { isEnvelope } from './envelope.ts';
import { queueObject } from '../queue/stubs.ts';
import { placeTasks, taskShardName } from '../core/shards.ts';

/**
 * A message is acked only after every QueueObject it names took its tasks; a failed
 * delivery retries the message, and the objects drop tasks they already hold.
 */
export async function consume(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const byShard = new Map<string, { specs: TaskSpec[]; messages: Set<Message<unknown>> }>();
  for (const message of batch.messages) {
    const body = message.body;
    if (!isEnvelope(body)) {
      console.error('dropping a bus message that is not a drover envelope', message.id);
      message.ack();
      continue;
    }
    let specs: TaskSpec[];
    try {
      // Ids are read back from whichever D1 holds them: the hub's, or a jurisdiction's.
      if ('refs' in body) specs = (await Promise.all(everyDb(env).map((db) => loadSpecs(db, body.refs)))).flat();
      else if (!body.recorded) specs = await recordEverywhere(env, placeTasks(env, body.tasks)).then((r) => r.created);
      else specs = body.tasks;
    } catch (err) {
      console.error('bus message could not be read back or recorded; retrying', err);
      message.retry();
      continue;
    }
    if (specs.length === 0) message.ack();
    for (const spec of specs) {
      const shard = taskShardName(env, spec);
      const group = byShard.get(shard) ?? { specs: [], messages: new Set() };
      group.specs.push(spec);
      group.messages.add(message);
      byShard.set(shard, group);
    }
  }
  const failed = new Set<Message<unknown>>();
  await Promise.all(
    [...byShard].map(async ([queue, group]) => {
      try {
        await queueObject(env, queue).deliver(group.specs);
      } catch (err) {
        console.error(`delivery to queue ${queue} failed; retrying`, err);
        for (const m of group.messages) failed.add(m);
      }
    }),
  );
  for (const group of byShard.values()) {
    for (const m of group.messages) {
      if (failed.has(m)) m.retry();
      else m.ack();
    }
  }
}
