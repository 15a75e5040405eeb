// The hub Worker's entry: wires HTTP, the bus consumer and the cron trigger; it decides nothing itself.
import { app } from './api/app.ts';
import { consume } from './bus/consumer.ts';
import { redeliver } from './bus/redeliver.ts';
import type { Env } from './env.ts';

export { QueueObject } from './queue/QueueObject.ts';

export default {
  fetch: app.fetch,
  queue: (batch, env) => consume(batch, env),
  scheduled: (controller, env, ctx) => ctx.waitUntil(redeliver(env, controller.scheduledTime)),
} satisfies ExportedHandler<Env>;
