// Reading a V8 CPU profile (the DevTools format profile.ts writes): time by function, inclusive of what it called.

export interface Node { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number; children?: number[] }
export interface Profile { nodes: Node[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number }

/** A sample followed by a gap longer than this was the last before the isolate stopped running (its time is not its own). */
export const GAP_US = 1500;

export const nameOf = (f: Node['callFrame']) => `${f.functionName || '(anonymous)'} ${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}`;

/**
 * Time in each function and everything it called, over the samples taken while the isolate ran
 * (idle and the gaps while other isolates or the runtime's own code ran are left out): each
 * sample counts the time to the next one toward every distinct function on its stack.
 */
export function inclusive(profile: Profile): { ran: number; byFunction: Map<string, number> } {
  const byId = new Map(profile.nodes.map((x) => [x.id, x]));
  const parent = new Map<number, number>();
  for (const x of profile.nodes) for (const c of x.children ?? []) parent.set(c, x.id);
  const byFunction = new Map<string, number>();
  let ran = 0;
  profile.samples.forEach((sample, i) => {
    const us = profile.timeDeltas[i + 1] ?? 0;
    if (us > GAP_US || byId.get(sample)!.callFrame.functionName === '(idle)') return;
    ran += us;
    const seen = new Set<string>();
    for (let id: number | undefined = sample; id !== undefined; id = parent.get(id)) {
      const key = nameOf(byId.get(id)!.callFrame);
      if (seen.has(key)) continue;
      seen.add(key);
      byFunction.set(key, (byFunction.get(key) ?? 0) + us);
    }
  });
  return { ran, byFunction };
}
