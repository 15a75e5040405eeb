// The hub Worker's entry: wires HTTP, the bus consumer and the cron trigger; it decides nothing itself.
import { app } from './api/app.ts';
import { beatObject } from './beat/BeatObject.ts';
import { runBeat } from './beat/tick.ts';
import { consume } from './bus/consumer.ts';
import { redeliver } from './bus/redeliver.ts';
import { sweepRetention } from './db/retention.ts';
import type { Env } from './env.ts';

export { BeatObject } from './beat/BeatObject.ts';
export { EventsObject } from './events/EventsObject.ts';
export { HttpRunnerObject } from './consumers/HttpRunnerObject.ts';
export { QueueObject } from './queue/QueueObject.ts';
export { WorkflowObject } from './workflow/WorkflowObject.ts';

/** The cron trigger: beat's due slots, the interval alarm kept armed, the bus redelivery sweep, retention. */
async function scheduled(controller: ScheduledController, env: Env): Promise<void> {
  const results = await Promise.allSettled([
    runBeat(env, controller.scheduledTime),
    beatObject(env).arm(),
    redeliver(env, controller.scheduledTime),
    sweepRetention(env.DB, controller.scheduledTime),
  ]);
  for (const r of results) if (r.status === 'rejected') console.error('scheduled work failed', r.reason);
}

export default {
  fetch: app.fetch,
  queue: (batch, env) => consume(batch, env),
  scheduled: (controller, env, ctx) => ctx.waitUntil(scheduled(controller, env)),
} satisfies ExportedHandler<Env>;
