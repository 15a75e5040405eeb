// Claim order: higher priority first, then earlier eta (or enqueue time), then enqueue order.

export interface Orderable {
  priority: number;
  readyAt: number;
  id: string;
}

/** Negative when `a` is handed out before `b`. Ids are time-ordered, so they carry enqueue order. */
export function compareClaimOrder(a: Orderable, b: Orderable): number {
  if (a.priority !== b.priority) return b.priority - a.priority;
  if (a.readyAt !== b.readyAt) return a.readyAt - b.readyAt;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/**
 * Merges lanes that are each already in claim order (the region's own lane and the
 * untagged lane) and keeps the first `max`: a claim reads at most `max` rows per lane.
 */
export function mergeLanes<T extends Orderable>(lanes: T[][], max: number): T[] {
  const all = lanes.flat();
  all.sort(compareClaimOrder);
  return all.slice(0, max);
}
