// Workflow routes: start a chain, group or chord; read its progress; revoke what has not run.
import { Hono } from 'hono';
import { newTaskId, ULID_PATTERN } from '../core/ids.ts';
import type { Env } from '../env.ts';
import { plan, taskIds, type Plan, type Request } from '../workflow/plan.ts';
import type { AuthVars } from './auth.ts';
import { requireEnqueue } from '../protocol/principals.ts';
import { readJson } from './body.ts';
import { describeIssues } from '../protocol/parse.ts';
import { routed } from '../core/routes.ts';
import { checkSize, checkTargets, refuseJurisdiction } from '../intake/spec.ts';
import { route } from '../intake/routes.ts';
import { MAX_BATCH_BYTES } from '../protocol/sizes.ts';
import { DroverError } from '../protocol/errors.ts';
import { presentWorkflow } from './present.ts';
import { signatureBody, workflowListQuery, type Signature } from '../protocol/schemas.ts';
import { parseWith } from '../protocol/parse.ts';
import { listWorkflows } from '../db/workflow-list.ts';
import { everyDb, taskStates } from '../db/stores.ts';
import { holderOf } from '../queue/stubs.ts';
import { workflowPage, workflowRevoked, workflowStarted, type Answer } from '../protocol/answers.ts';

export const workflows = new Hono<AuthVars>();

const MAX_TASKS = 1000;
const SHAPES = 'a workflow is {"chain": [...]}, {"group": [...]} or {"chord": {"header": [...], "body": {...}}}';

function fail(message: string, path: string): never {
  throw new DroverError('invalid_request', `invalid workflow: ${path ? `${path}: ` : ''}${message}`, { path });
}

function signature(value: unknown, path: string): Signature {
  checkSize(value, path);
  const parsed = signatureBody.safeParse(value);
  if (!parsed.success) throw new DroverError('invalid_request', `invalid workflow: ${describeIssues(parsed.error, [path])}`, { path });
  return routed(value as object, parsed.data, route);
}

function list(value: unknown, path: string, min: number): unknown[] {
  if (!Array.isArray(value) || value.length < min) fail(`must be a list of at least ${min} task${min > 1 ? 's' : ''}`, path);
  return value as unknown[];
}

/** Checks a workflow request shape by shape, so a message names the exact step at fault. */
function parseRequest(raw: unknown): Request {
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObject(raw) || Object.keys(raw).length !== 1) fail(SHAPES, '');
  if ('chain' in raw) {
    return {
      chain: list(raw.chain, 'chain', 1).map((step, i) =>
        isObject(step) && 'group' in step
          ? Object.keys(step).length === 1
            ? { group: list(step.group, `chain[${i}].group`, 1).map((s, j) => signature(s, `chain[${i}].group[${j}]`)) }
            : fail('a group step has only the key "group"', `chain[${i}]`)
          : signature(step, `chain[${i}]`),
      ),
    };
  }
  if ('group' in raw) return { group: list(raw.group, 'group', 1).map((s, i) => signature(s, `group[${i}]`)) };
  if ('chord' in raw) {
    const c = raw.chord;
    if (!isObject(c) || Object.keys(c).length !== 2 || !('header' in c) || !('body' in c)) fail('a chord is {"header": [...], "body": {...}}', 'chord');
    return { chord: { header: list(c.header, 'chord.header', 1).map((s, i) => signature(s, `chord.header[${i}]`)), body: signature(c.body, 'chord.body') } };
  }
  return fail(SHAPES, '');
}

/**
 * Ids the producer chose for members must be new and distinct: a member whose id a task has
 * already would be that task, which the workflow does not follow, and the workflow would wait on
 * it for ever. Refused before anything is made.
 */
async function checkChosenIds(env: Env, p: Plan): Promise<void> {
  const chosen = p.steps.flatMap((s) => s.tasks).filter((t) => t.sig.id !== undefined).map((t) => t.id);
  if (chosen.length === 0) return;
  const twice = chosen.find((id, i) => chosen.indexOf(id) !== i);
  if (twice) fail(`the id "${twice}" is given to two members`, '');
  const [found] = (await taskStates(env, chosen)).keys();
  if (found) throw new DroverError('conflict', `a task has the id "${found}" already: a workflow member's id must be new`, { id: found });
}

function stub(env: Env, id: string) {
  return env.WORKFLOWS.get(env.WORKFLOWS.idFromName(id));
}

workflows.post('/', async (c) => {
  requireEnqueue(c.var.principal);
  const raw = await readJson(c, MAX_BATCH_BYTES);
  const request = parseRequest(raw);
  const p = plan(request);
  p.steps.forEach((step, i) =>
    step.tasks.forEach((t, j) => {
      checkTargets(c.env, t.sig, `steps[${i}][${j}]`);
      refuseJurisdiction(c.env, t.sig.region, 'a workflow', `steps[${i}][${j}].region`);
    }),
  );
  const ids = taskIds(p);
  if (ids.length > MAX_TASKS) fail(`has ${ids.length} tasks; a workflow may have at most ${MAX_TASKS}`, '');
  await checkChosenIds(c.env, p);
  const id = newTaskId();
  await stub(c.env, id).start(id, p, Date.now());
  return c.json({ id, tasks: ids } satisfies Answer<typeof workflowStarted>, 202);
});

workflows.get('/', async (c) => {
  requireEnqueue(c.var.principal);
  const q = parseWith(workflowListQuery, c.req.query(), 'query');
  const page = await listWorkflows(everyDb(c.env), q.limit, q.cursor ?? null);
  return c.json({ workflows: page.workflows.map((w) => ({ ...w, createdAt: new Date(w.createdAt).toISOString() })), cursor: page.cursor } satisfies Answer<typeof workflowPage>);
});

async function view(env: Env, id: string) {
  const found = ULID_PATTERN.test(id) ? await stub(env, id).describe() : null;
  if (!found) throw new DroverError('not_found', `no workflow has the id "${id.slice(0, 64)}"`);
  return found;
}

workflows.get('/:id', async (c) => {
  requireEnqueue(c.var.principal);
  const w = await view(c.env, c.req.param('id'));
  // Tasks not ended yet: their live state is in the task record.
  const open = w.steps.flatMap((s) => s.tasks).filter((t) => t.state === null).map((t) => t.id);
  const live = open.length ? await taskStates(c.env, open) : new Map<string, string>();
  return c.json(presentWorkflow(w, live));
});

workflows.post('/:id/revoke', async (c) => {
  requireEnqueue(c.var.principal);
  const id = c.req.param('id');
  await view(c.env, id);
  const open = (await stub(c.env, id).revoke()) ?? [];
  const outcomes = await Promise.all(open.map(async (t) => (await holderOf(c.env, t)).revoke(t.id)));
  return c.json({ state: (await view(c.env, id)).state, revoked: outcomes.filter((o) => o.ok).length } satisfies Answer<typeof workflowRevoked>);
});

