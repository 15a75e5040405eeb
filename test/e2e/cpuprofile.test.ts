// profile.ts's inclusive time: what `node test/bench/profile.ts` prints as µs a task.
import { describe, expect, it } from 'vitest';
import { inclusive, type Node, type Profile } from '../bench/cpuprofile.ts';

const node = (id: number, functionName: string, children: number[] = [], lineNumber = id): Node => ({
  id, callFrame: { functionName, url: 'hub.js', lineNumber }, children,
});

// (root) 1 → handler 2 → query 3 → handler 4 (recursion) → query 5; (idle) 6 under the root.
const nodes = [node(1, '(root)', [2, 6]), node(2, 'handler', [3]), node(3, 'query', [4]), node(4, 'handler', [5], 2), node(5, 'query'), node(6, '(idle)')];
const profile = (samples: number[], timeDeltas: number[]): Profile => ({ nodes, samples, timeDeltas, startTime: 0, endTime: timeDeltas.reduce((a, b) => a + b, 0) });

describe('inclusive time from a CPU profile', () => {
  it('counts a sample toward each function on its stack once, recursion included', () => {
    // A sample's time is the delta to the next sample: 300 µs each here.
    const { ran, byFunction } = inclusive(profile([2, 3, 5, 2], [0, 300, 300, 300, 300]));
    expect(ran).toBe(1200);
    // `handler` is twice on the third sample's stack (it called itself): its time counts once.
    expect(byFunction.get('handler hub.js:3')).toBe(300 * 4);
    expect(byFunction.get('query hub.js:4')).toBe(300 * 2);
    expect(byFunction.get('query hub.js:6')).toBe(300);
    expect(byFunction.get('(root) hub.js:2')).toBe(1200);
  });

  it('leaves out idle samples and samples followed by a gap (the isolate did not run)', () => {
    // Sample 2 is followed by 9 ms: another isolate or the runtime ran then.
    const { ran, byFunction } = inclusive(profile([3, 6, 2, 3], [0, 200, 200, 9000, 200]));
    expect(ran).toBe(200 + 200);
    expect(byFunction.get('query hub.js:4')).toBe(200 + 200);
    expect(byFunction.has('(idle) hub.js:7')).toBe(false);
  });
});
