// Ready tasks no worker seen lately would take: "waiting for a worker that runs X".

/** A worker as its latest claim described it: the task names it runs (null: any) and its region. */
export interface Claimant {
  worker: string;
  region: string | null;
  tasks: string[] | null;
  /** When it last claimed (or heartbeated a lease), epoch ms. */
  at: number;
}

/** Ready tasks of one name and region (null: untagged). */
export interface ReadyGroup {
  task: string;
  region: string | null;
  ready: number;
}

/** Groups a queue lists as unserved at most: those with the most ready tasks. */
export const MAX_UNSERVED = 100;

/**
 * The groups no claimant would take: a claimant of region R takes R's tasks and untagged ones, a
 * claimant of no region only untagged ones; one that named no tasks takes any name. Groups of the
 * same name and region (from several shards) are added up. At most `max`, those with the most
 * ready tasks; by name, then region.
 */
export function unserved(ready: ReadyGroup[], claimants: Pick<Claimant, 'region' | 'tasks'>[], max = MAX_UNSERVED): ReadyGroup[] {
  const served = (g: ReadyGroup) =>
    claimants.some((c) => (g.region === null || c.region === g.region) && (c.tasks === null || c.tasks.includes(g.task)));
  const out = new Map<string, ReadyGroup>();
  for (const g of ready) {
    if (g.ready === 0 || served(g)) continue;
    const key = JSON.stringify([g.task, g.region]);
    const into = out.get(key);
    if (into) into.ready += g.ready;
    else out.set(key, { ...g });
  }
  const most = [...out.values()].sort((a, b) => b.ready - a.ready).slice(0, max);
  return most.sort((a, b) => (a.task === b.task ? (a.region ?? '').localeCompare(b.region ?? '') : a.task < b.task ? -1 : 1));
}
