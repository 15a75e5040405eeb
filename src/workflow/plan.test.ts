// Workflow plans: shapes normalised to steps, ids fixed up front, arguments built from previous results.
import { describe, expect, it } from 'vitest';
import { signatureBody } from '../protocol/schemas.ts';
import { argsFor, plan, stepResult, taskIds } from './plan.ts';

const s = (task: string, args: unknown[] = [], immutable = false) => signatureBody.parse({ task, args, immutable });

describe('plans', () => {
  it('turn a chain with a group step into steps, every task with its own id', () => {
    const p = plan({ chain: [s('a'), { group: [s('b'), s('c')] }, s('d')] });
    expect(p.shape).toBe('chain');
    expect(p.steps.map((st) => [st.group, st.tasks.map((t) => t.sig.task)])).toEqual([[false, ['a']], [true, ['b', 'c']], [false, ['d']]]);
    expect(new Set(taskIds(p)).size).toBe(4);
  });

  it('make a chord a group step followed by its body', () => {
    const p = plan({ chord: { header: [s('h1'), s('h2')], body: s('b') } });
    expect(p.steps.map((st) => [st.group, st.tasks.length])).toEqual([[true, 2], [false, 1]]);
  });

  it('hand a group\'s results on as a list in step order, and a single step\'s result as itself', () => {
    const p = plan({ chain: [{ group: [s('x'), s('y')] }, s('z')] });
    const [gx, gy] = p.steps[0].tasks;
    const results = new Map<string, unknown>([[gy.id, 'Y'], [gx.id, 'X']]);
    expect(stepResult(p.steps[0], results)).toEqual(['X', 'Y']);
    expect(argsFor(p.steps[1].tasks[0], { value: ['X', 'Y'] })).toEqual([['X', 'Y']]);
  });

  it('put the previous result first unless the step is immutable', () => {
    const p = plan({ chain: [s('a'), s('b', [2, 3]), s('c', [9], true)] });
    expect(argsFor(p.steps[1].tasks[0], { value: 1 })).toEqual([1, 2, 3]);
    expect(argsFor(p.steps[2].tasks[0], { value: 1 })).toEqual([9]);
    expect(argsFor(p.steps[0].tasks[0], null)).toEqual([]);
  });
});
