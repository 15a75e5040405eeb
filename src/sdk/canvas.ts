// chain, group and chord built on defineTask, so that each step's result type flows into the next.
import { enqueueBody, type EnqueueOptions } from './enqueue-body.ts';
import type { TaskDefinition } from './task.ts';

type Body = Record<string, unknown>;

/** A task call that starts a workflow or sits in a group: it gets exactly the arguments given. */
export interface Signature<R> {
  readonly body: Body;
  readonly result?: R;
}

/** A later step of a chain: it gets the previous step's result `P` as its first argument. */
export interface Link<P, R> {
  readonly body: Body;
  readonly input?: (previous: P) => void;
  readonly result?: R;
}

/** Tasks run at once; as a step, their results in order are what the next step gets. */
export interface Group<R> {
  readonly group: Body[];
  readonly result?: R;
}

/** A workflow ready for `client.workflow()`; `R` is its result. */
export interface Workflow<R> {
  readonly request: Body;
  readonly result?: R;
}

type ResultsOf<S extends readonly Signature<unknown>[]> = { -readonly [K in keyof S]: S[K] extends Signature<infer R> ? R : never };

/**
 * A call of `task` with its arguments.
 *
 * @example
 * const first = sig(fetchPage, ['https://example.cn'], { region: 'cn' });
 */
export function sig<A extends unknown[], R>(task: TaskDefinition<A, R>, args: A, options: EnqueueOptions = {}): Signature<R> {
  return { body: { ...enqueueBody(task.name, args, options, task.options), immutable: true } };
}

/**
 * A chain step that receives the previous result first, then `rest`.
 *
 * @example
 * chain(sig(fetchPage, [url]), link(parsePage, []))   // parsePage's handler: ([page]: [Page]) => ...
 */
export function link<P, Rest extends unknown[], R>(task: TaskDefinition<[P, ...Rest], R>, rest: Rest, options: EnqueueOptions = {}): Link<P, R> {
  return { body: enqueueBody(task.name, rest, options, task.options) };
}

/** Runs the calls at once; the workflow's result is the list of their results. */
export function group<S extends Signature<unknown>[]>(...sigs: S): Group<ResultsOf<S>> & Workflow<ResultsOf<S>> {
  const bodies = sigs.map((s) => s.body);
  return { group: bodies, request: { group: bodies } };
}

function stepBody(step: Signature<unknown> | Group<unknown> | Link<unknown, unknown>): Body {
  return 'group' in step ? { group: step.group } : step.body;
}

/**
 * Steps one after another, each getting the previous result (a group's results as a list).
 * A step that fails after its retries stops the chain.
 *
 * @example
 * const w = chain(group(sig(add, [1, 2]), sig(add, [3, 4])), link(sum, []));
 * const total = await (await client.workflow(w)).wait();   // typed as sum's result
 */
export function chain<A>(a: Signature<A> | Group<A>): Workflow<A>;
export function chain<A, B>(a: Signature<A> | Group<A>, b: Link<A, B>): Workflow<B>;
export function chain<A, B, C>(a: Signature<A> | Group<A>, b: Link<A, B>, c: Link<B, C>): Workflow<C>;
export function chain<A, B, C, D>(a: Signature<A> | Group<A>, b: Link<A, B>, c: Link<B, C>, d: Link<C, D>): Workflow<D>;
export function chain(...steps: (Signature<unknown> | Group<unknown> | Link<unknown, unknown>)[]): Workflow<unknown> {
  return { request: { chain: steps.map(stepBody) } };
}

/** Runs `header` at once, then `body` once, with the header's results in header order. */
export function chord<S extends Signature<unknown>[], R>(header: [...S], body: Link<ResultsOf<S>, R>): Workflow<R> {
  return { request: { chord: { header: header.map((s) => s.body), body: body.body } } };
}
