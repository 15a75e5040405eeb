// Task routes (Celery's task_routes): a table that picks queue, region and priority by task name.

export interface TaskRoute {
  /** An exact task name, or a glob where `*` matches any characters: "scrape.*", "scrape.cn.*". */
  match: string;
  queue?: string;
  region?: string | null;
  priority?: number;
}

/** A queue's name. */
export const QUEUE = /^[a-z0-9_-]{1,64}$/;
const REGION = /^[a-z0-9-]{1,32}$/;

/** A glob where `*` matches any characters, as a whole-string RegExp. */
export function glob(pattern: string): RegExp {
  return new RegExp(`^${pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\/]/g, '\\$&')).join('.*')}$`);
}

/**
 * Checks a route table once, and returns the lookup: the first route whose pattern
 * matches the task name wins. Throws on a route that could never be applied.
 */
export function compileRoutes(routes: TaskRoute[]): (task: string) => TaskRoute | undefined {
  const compiled = routes.map((r, i) => {
    if (typeof r.match !== 'string' || r.match === '') throw new Error(`route ${i}: "match" must be a task name or glob`);
    if (r.queue !== undefined && !QUEUE.test(r.queue)) throw new Error(`route ${i} (${r.match}): queue "${r.queue}" is not a queue name`);
    if (r.region != null && !REGION.test(r.region)) throw new Error(`route ${i} (${r.match}): region "${r.region}" is not a region name`);
    if (r.priority !== undefined && !(Number.isInteger(r.priority) && r.priority >= 0 && r.priority <= 9)) throw new Error(`route ${i} (${r.match}): priority must be 0-9`);
    return { route: r, test: glob(r.match) };
  });
  return (task) => compiled.find((c) => c.test.test(task))?.route;
}

/** Fills queue, region and priority from the route where the enqueue request left them out. */
export function routed<T extends { task: string; queue: string; region: string | null; priority: number }>(
  raw: object,
  body: T,
  lookup: (task: string) => TaskRoute | undefined,
): T {
  const route = lookup(body.task);
  if (!route) return body;
  const out = { ...body };
  if (!('queue' in raw) && route.queue !== undefined) out.queue = route.queue;
  if (!('region' in raw) && route.region !== undefined) out.region = route.region;
  if (!('priority' in raw) && route.priority !== undefined) out.priority = route.priority;
  return out;
}
