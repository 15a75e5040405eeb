// The task routes a deployment declares in code (createHub's `routes`): where a task goes when its
// producer does not say. Set once, when the hub's module loads, before any request: every isolate of
// the Worker, its Durable Objects' included, loads that module first.
import { compileRoutes, type TaskRoute } from '../core/routes.ts';

let declared = compileRoutes([]);

/** Checks the table and makes it the hub's: a bad table fails at load (the deploy), not at an enqueue. */
export function declareRoutes(routes: TaskRoute[]): void {
  declared = compileRoutes(routes);
}

/** The first route that matches a task name, if any. */
export function route(task: string): TaskRoute | undefined {
  return declared(task);
}
