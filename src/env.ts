// The bindings and settings the hub Worker runs with (wrangler.toml, secrets, --var).
import type { BeatObject } from './beat/BeatObject.ts';
import type { QueueObject } from './queue/QueueObject.ts';
import type { WorkflowObject } from './workflow/WorkflowObject.ts';
import type { Envelope } from './bus/envelope.ts';

export interface Env {
  DB: D1Database;
  BUS: Queue<Envelope>;
  QUEUES: DurableObjectNamespace<QueueObject>;
  BEAT: DurableObjectNamespace<BeatObject>;
  WORKFLOWS: DurableObjectNamespace<WorkflowObject>;
  /** `token:scope[+scope...]`, comma-separated. A secret in production. */
  DROVER_TOKENS?: string;
  /** Origins allowed to call /v1 from a browser, comma-separated; none by default. */
  DROVER_CORS_ORIGINS?: string;
  /** Seconds before a recorded task the bus has not delivered is sent again. */
  DROVER_REDELIVER_AFTER?: string;
}
