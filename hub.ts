// This repository's hub Worker (wrangler.toml's main): drover's hub with the task routes and the
// schedules declared at the root, in routes.ts and schedules.ts.
import { createHub } from './src/hub.ts';
import routes from './routes.ts';
import schedules from './schedules.ts';

export { BeatObject, EventsObject, HttpRunnerObject, QueueObject, WorkflowObject } from './src/hub.ts';

export default createHub({ routes, schedules });
