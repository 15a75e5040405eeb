// Workflow plans as data: chain, group and chord normalised to steps, with every task's id fixed up front.
import type { Signature } from '../protocol/schemas.ts';
import { newTaskId } from '../core/ids.ts';

export interface PlannedTask {
  id: string;
  sig: Signature;
}

/** A step runs when the one before it succeeded; a group step's result is the list of its results. */
export interface Step {
  group: boolean;
  tasks: PlannedTask[];
}

export type Shape = 'chain' | 'group' | 'chord';

export interface Plan {
  shape: Shape;
  steps: Step[];
}

/** What a request asks for, validated: a chain step may itself be a group (a chord within the chain). */
export type Request =
  | { chain: (Signature | { group: Signature[] })[] }
  | { group: Signature[] }
  | { chord: { header: Signature[]; body: Signature } };

/** A member keeps the id its producer chose (the route refuses one a task has already). */
const planned = (sig: Signature, now: number): PlannedTask => ({ id: sig.id ?? newTaskId(now), sig });

export function plan(request: Request, now = Date.now()): Plan {
  if ('chain' in request) {
    return {
      shape: 'chain',
      steps: request.chain.map((step) =>
        'group' in step ? { group: true, tasks: step.group.map((s) => planned(s, now)) } : { group: false, tasks: [planned(step, now)] },
      ),
    };
  }
  if ('group' in request) return { shape: 'group', steps: [{ group: true, tasks: request.group.map((s) => planned(s, now)) }] };
  return {
    shape: 'chord',
    steps: [
      { group: true, tasks: request.chord.header.map((s) => planned(s, now)) },
      { group: false, tasks: [planned(request.chord.body, now)] },
    ],
  };
}

/** Every task id of the plan, in plan order. */
export function taskIds(p: Plan): string[] {
  return p.steps.flatMap((s) => s.tasks.map((t) => t.id));
}

/** What a finished step hands on: its one result, or its results in order for a group. */
export function stepResult(step: Step, results: Map<string, unknown>): unknown {
  return step.group ? step.tasks.map((t) => results.get(t.id)) : results.get(step.tasks[0].id);
}

/** The arguments a task of a later step runs with: the previous result first, unless immutable. */
export function argsFor(task: PlannedTask, previous: { value: unknown } | null): unknown[] {
  return previous === null || task.sig.immutable ? task.sig.args : [previous.value, ...task.sig.args];
}
