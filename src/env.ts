// The bindings and settings the hub Worker runs with (wrangler.toml, secrets, --var).
import type { BeatObject } from './beat/BeatObject.ts';
import type { EventsObject } from './events/EventsObject.ts';
import type { HttpRunnerObject } from './consumers/HttpRunnerObject.ts';
import type { QueueObject } from './queue/QueueObject.ts';
import type { WorkflowObject } from './workflow/WorkflowObject.ts';
import type { Envelope } from './bus/envelope.ts';

export interface Env {
  DB: D1Database;
  /** The hub's other D1 partitions (DROVER_D1_PARTITIONS): DB_P1 .. DB_P{N-1}, DB being partition 0 (src/db/partitions.ts). */
  [partition: `DB_P${number}`]: D1Database | undefined;
  /** The D1 databases of jurisdictions (`wrangler d1 create --jurisdiction eu`): records of tasks whose region is bound to one (DROVER_JURISDICTIONS). */
  DB_EU?: D1Database;
  DB_FEDRAMP?: D1Database;
  BUS: Queue<Envelope>;
  QUEUES: DurableObjectNamespace<QueueObject>;
  BEAT: DurableObjectNamespace<BeatObject>;
  WORKFLOWS: DurableObjectNamespace<WorkflowObject>;
  HTTP_RUNNER: DurableObjectNamespace<HttpRunnerObject>;
  EVENTS: DurableObjectNamespace<EventsObject>;
  /** `token:scope[+scope...]`, comma-separated. A secret in production. */
  DROVER_TOKENS?: string;
  /** Secrets that sign HTTP tasks and callbacks, comma-separated; the first signs (all sign, for rotation). */
  DROVER_SIGNING_KEYS?: string;
  /** Hosts or IPv4 CIDRs that HTTP tasks and callbacks may reach although private or loopback. */
  DROVER_HTTP_ALLOW?: string;
  /** Set to anything to serve GET /metrics without a token. */
  METRICS_PUBLIC?: string;
  /** Origins allowed to call /v1 from a browser, comma-separated; none by default. */
  DROVER_CORS_ORIGINS?: string;
  /** Seconds before a recorded task the bus has not delivered is sent again. */
  DROVER_REDELIVER_AFTER?: string;
  /** Seconds a worker socket lives before the hub asks its worker to reconnect (and so to show its token again). Default 600. */
  DROVER_SOCKET_SECONDS?: string;
  /** Shards per queue, JSON: `{"scrape": 8, "bench-*": 4}` (src/core/shards.ts). Default: one each. */
  DROVER_SHARDS?: string;
  /** How many D1 databases hold the hub's task records, 1-16 (src/db/partitions.ts). Default 1: DB alone. */
  DROVER_D1_PARTITIONS?: string;
  /** Regions bound to a jurisdiction, JSON: `{"weur": "eu"}` (src/core/jurisdictions.ts). Their tasks are held by objects and a D1 database there. */
  DROVER_JURISDICTIONS?: string;
  /** "true": jurisdictions are kept apart by object name and local D1 alone (workerd has none). npm start sets it; never set it on a deployed hub. */
  DROVER_LOCAL_JURISDICTIONS?: string;
  /** Seconds a worker may take between heartbeats (their answer's `intervalSeconds`); alive within three of them. Default 10. */
  DROVER_WORKER_INTERVAL_SECONDS?: string;
  /** Seconds after its last sign of life a worker is listed gone rather than stale. Default 300. */
  DROVER_WORKER_STALE_SECONDS?: string;
  /** "true": a line per HTTP request on the log (npm start sets it; Cloudflare keeps request logs of its own). */
  DROVER_LOG_REQUESTS?: string;
  /** "true": a request to /cdn-cgi/handler/scheduled runs the cron trigger (src/local-cron.ts). npm start sets it; never set it on a deployed hub. */
  DROVER_LOCAL_CRON?: string;
}
