// drover/hub: the hub Worker's entry. It wires HTTP, the bus consumer and the cron trigger, and
// decides nothing itself. A deployment's Worker re-exports the object classes and makes its default
// export with createHub, giving the task routes and schedules it declares in code.
import { app } from './api/app.ts';
import { beatObject } from './beat/BeatObject.ts';
import { runBeat } from './beat/tick.ts';
import { consume } from './bus/consumer.ts';
import { redeliver } from './bus/redeliver.ts';
import { sweepRetention } from './db/retention.ts';
import { everyDb } from './db/stores.ts';
import { hubD1, withCountedD1 } from './db/counted.ts';
import type { Env } from './env.ts';
import { declareRoutes } from './intake/routes.ts';
import { declareSchedules } from './beat/declare.ts';
import type { TaskRoute } from './core/routes.ts';
import type { ScheduleDefinition } from './protocol/schemas.ts';
import { withLocalCron } from './local-cron.ts';

export { BeatObject } from './beat/BeatObject.ts';
export { EventsObject } from './events/EventsObject.ts';
export { HttpRunnerObject } from './consumers/HttpRunnerObject.ts';
export { QueueObject } from './queue/QueueObject.ts';
export { WorkflowObject } from './workflow/WorkflowObject.ts';
export { defineSchedule } from './beat/declare.ts';
export type { Env } from './env.ts';
export type { TaskRoute, ScheduleDefinition };

/** The cron trigger: beat's due slots, the interval alarm kept armed, the bus redelivery sweep, retention. */
async function scheduled(controller: ScheduledController, env: Env): Promise<void> {
  const results = await Promise.allSettled([
    runBeat(env, controller.scheduledTime),
    beatObject(env).arm(),
    redeliver(env, controller.scheduledTime),
    ...everyDb(env).map((db) => sweepRetention(db, controller.scheduledTime)),
  ]);
  for (const r of results) if (r.status === 'rejected') console.error('scheduled work failed', r.reason);
}

// Under npm start only, /cdn-cgi/handler/scheduled runs the cron trigger too (local-cron.ts).
const fetchHandler = withLocalCron(app.fetch, scheduled);
/** The env the handlers see: its D1 bindings count the hub's statements (GET /metrics). */
const counted = (env: Env) => withCountedD1(env, hubD1);

const handlers = {
  fetch: (request, env, ctx) => fetchHandler(request, counted(env), ctx),
  queue: (batch, env) => consume(batch, counted(env)),
  scheduled: (controller, env, ctx) => ctx.waitUntil(scheduled(controller, counted(env))),
} satisfies ExportedHandler<Env>;

export interface HubOptions {
  /** Where a task goes when its producer does not say; first match wins. */
  routes?: TaskRoute[];
  /** Schedules declared in code, each made with defineSchedule; the cron trigger applies them. */
  schedules?: ScheduleDefinition[];
}

/**
 * The hub's handlers, with the routes and schedules a deployment declares in code. Call it once, at
 * the top of the Worker's module: every isolate, the Durable Objects' included, loads that module
 * first, so the declarations hold before any request. A bad route or schedule throws here, at load.
 *
 * @example
 * export { BeatObject, EventsObject, HttpRunnerObject, QueueObject, WorkflowObject } from 'drover/hub';
 * export default createHub({ routes: [{ match: 'scrape.cn.*', queue: 'scrape', region: 'cn' }] });
 */
export function createHub(options: HubOptions = {}): typeof handlers {
  declareRoutes(options.routes ?? []);
  declareSchedules(options.schedules ?? []);
  return handlers;
}

/** A hub with no routes or schedules declared in code. */
export default handlers;
