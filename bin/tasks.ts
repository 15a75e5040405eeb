// The task commands: `drover enqueue`, `drover task ID`, `drover tasks`, `drover revoke ID`.
import { parseArgs } from 'node:util';
import type { TaskRecord, WorkflowRecord } from '../src/protocol/records.ts';
import { UsageError, type Command } from './command.ts';
import { HUB_FLAGS, ago, hubOf, jsonFlag, numberFlag, show, table } from './hub.ts';

const FINAL = ['succeeded', 'failed', 'revoked', 'expired'];
const STATES = ['queued', 'delayed', 'running', ...FINAL];
const HUB_USAGE = `  --url URL, --token TOKEN   the hub and a token (default $DROVER_URL, $DROVER_TOKEN)
  --json                      the hub's answer as JSON, for scripts`;

// ---- enqueue

const enqueueUsage = `usage: drover enqueue NAME [--args JSON] [--kwargs JSON] [--queue Q] [--region R] [--priority 0-9]
                      [--countdown SECONDS | --eta TIME] [--expires SECONDS|TIME] [--max-retries N]
                      [--timeout SECONDS] [--idempotency-key KEY] [--wait SECONDS]
Enqueues one task named NAME (any language's worker may run it) and prints its id and state.
  --args '[1, 2]', --kwargs '{"a": 1}'   its arguments, as JSON
  --countdown S / --eta TIME              not before S seconds from now / an RFC 3339 time
  --wait S                                then wait up to S seconds (at most 60) for it to end and
                                          print its result; exit 1 unless it succeeded
${HUB_USAGE}`;

async function enqueue(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      ...HUB_FLAGS,
      args: { type: 'string' },
      kwargs: { type: 'string' },
      queue: { type: 'string' },
      region: { type: 'string' },
      priority: { type: 'string' },
      countdown: { type: 'string' },
      eta: { type: 'string' },
      expires: { type: 'string' },
      'max-retries': { type: 'string' },
      timeout: { type: 'string' },
      'idempotency-key': { type: 'string' },
      wait: { type: 'string' },
    },
  });
  if (positionals.length !== 1) throw new UsageError('one task name is needed, e.g. drover enqueue scrape.page');
  if (values.countdown !== undefined && values.eta !== undefined) throw new UsageError('give --countdown or --eta, not both');
  const wait = numberFlag('wait', values.wait, 0, 60);
  const expires = values.expires === undefined ? undefined : /^\d+(\.\d+)?$/.test(values.expires) ? Number(values.expires) : values.expires;
  // The hub checks every field and its range; the CLI only turns flags into the enqueue body.
  const body = Object.fromEntries(
    Object.entries({
      task: positionals[0],
      args: jsonFlag('args', values.args, 'array'),
      kwargs: jsonFlag('kwargs', values.kwargs, 'object'),
      queue: values.queue,
      region: values.region,
      priority: numberFlag('priority', values.priority, 0, 9, true),
      delay: numberFlag('countdown', values.countdown, 0, Number.MAX_SAFE_INTEGER),
      eta: values.eta,
      expires,
      maxRetries: numberFlag('max-retries', values['max-retries'], 0, 100, true),
      timeout: numberFlag('timeout', values.timeout, 0, Number.MAX_SAFE_INTEGER),
      idempotencyKey: values['idempotency-key'],
    }).filter(([, v]) => v !== undefined),
  );
  const hub = hubOf(values);
  const made = await hub.call<{ id: string; state: string; duplicate?: boolean }>('POST', '/v1/tasks', body);
  if (wait === undefined) {
    show(values.json!, made, () => `${made.id} ${made.state}${made.duplicate ? ' (a repeat of its idempotency key: the first task)' : ''}`);
    return 0;
  }
  const task = await hub.call<TaskRecord>('GET', `/v1/tasks/${made.id}?wait=${wait}`);
  show(values.json!, task, () => describeTask(task));
  return task.state === 'succeeded' ? 0 : 1;
}

// ---- task ID

const taskUsage = `usage: drover task ID [--wait SECONDS]
Shows one task: its state, attempts, arguments, result, error with its traceback, and its workflow.
  --wait S   wait up to S seconds (at most 60) for it to end first
${HUB_USAGE}`;

function when(iso: string | null): string {
  return iso ? `${iso} (${ago(iso)})` : '-';
}

function describeTask(t: TaskRecord, workflow?: WorkflowRecord | null): string {
  const json = (v: unknown) => JSON.stringify(v);
  const rows: [string, string][] = [
    ['id', t.id],
    ['task', t.task],
    ['state', t.revokeRequested ? `${t.state} (revoke requested)` : t.state],
    ['queue', t.region ? `${t.queue} (region ${t.region})` : t.queue],
    ['attempts', `${t.attempts} of ${t.maxRetries + 1}`],
    ['worker', t.worker ?? '-'],
    ['args', json(t.args)],
    ['kwargs', json(t.kwargs)],
    ['created', when(t.createdAt)],
    ['eta', t.eta ?? '-'],
    ['started', when(t.startedAt)],
    ['finished', when(t.finishedAt)],
  ];
  if (t.progress !== null && t.progress !== undefined) rows.push(['progress', json(t.progress)]);
  if (t.state === 'succeeded') rows.push(['result', json(t.result)]);
  if (t.error) rows.push(['error', `${t.error.type}: ${t.error.message}`]);
  const lines = rows.map(([k, v]) => `${k.padEnd(9)} ${v}`);
  if (t.error?.stack) lines.push('traceback:', ...t.error.stack.split('\n').map((l) => `  ${l}`));
  if (workflow) {
    lines.push(`workflow  ${workflow.id} (${workflow.shape}, ${workflow.state})`);
    for (const m of workflow.tasks) lines.push(`  step ${m.step}  ${m.id === t.id ? '*' : ' '} ${m.task}[${m.id}] ${m.state}`);
  }
  return lines.join('\n');
}

async function task(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { ...HUB_FLAGS, wait: { type: 'string' } } });
  if (positionals.length !== 1) throw new UsageError('one task id is needed');
  const wait = numberFlag('wait', values.wait, 0, 60);
  const hub = hubOf(values);
  const t = await hub.call<TaskRecord>('GET', `/v1/tasks/${encodeURIComponent(positionals[0])}${wait === undefined ? '' : `?wait=${wait}`}`);
  // A workflow whose retention ended answers 404; the task is still worth showing.
  const workflow = t.workflowId ? await hub.call<WorkflowRecord>('GET', `/v1/workflows/${t.workflowId}`).catch(() => null) : null;
  show(values.json!, workflow ? { ...t, workflow } : t, () => describeTask(t, workflow));
  return 0;
}

// ---- tasks

const tasksUsage = `usage: drover tasks [--queue Q] [--state STATE] [--name TASK] [--region R] [--since TIME]
                    [--schedule ID] [--limit N] [--all]
Lists tasks, newest first, as a table: id, task, state, queue, region, attempts, created, worker.
  --state     ${STATES.join(', ')}
  --since     an RFC 3339 time, or a duration back from now: 90s, 15m, 2h, 7d
  --limit N   at most N (1-500, default 50); --all follows the pages to the end
${HUB_USAGE}`;

function since(text: string): string {
  const m = /^(\d+(?:\.\d+)?)([smhd])$/.exec(text);
  if (!m) return text; // an RFC 3339 time: the hub checks it
  const seconds = Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86_400 }[m[2] as 's' | 'm' | 'h' | 'd'];
  return new Date(Date.now() - seconds * 1000).toISOString();
}

async function tasks(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      ...HUB_FLAGS,
      queue: { type: 'string' },
      state: { type: 'string' },
      name: { type: 'string' },
      region: { type: 'string' },
      since: { type: 'string' },
      schedule: { type: 'string' },
      limit: { type: 'string' },
      all: { type: 'boolean', default: false },
    },
  });
  if (values.state !== undefined && !STATES.includes(values.state)) throw new UsageError(`--state must be one of ${STATES.join(', ')}`);
  const limit = numberFlag('limit', values.limit, 1, 500, true);
  const query = new URLSearchParams();
  for (const [key, value] of [
    ['queue', values.queue],
    ['state', values.state],
    ['task', values.name],
    ['region', values.region],
    ['since', values.since === undefined ? undefined : since(values.since)],
    ['schedule', values.schedule],
    ['limit', limit === undefined ? undefined : String(limit)],
  ] as const) {
    if (value !== undefined) query.set(key, value);
  }
  const hub = hubOf(values);
  const found: TaskRecord[] = [];
  for (;;) {
    const page = await hub.call<{ tasks: TaskRecord[]; cursor: string | null }>('GET', `/v1/tasks?${query}`);
    found.push(...page.tasks);
    if (!values.all || !page.cursor) break;
    query.set('cursor', page.cursor);
  }
  show(values.json!, { tasks: found }, () =>
    found.length === 0
      ? 'no tasks'
      : table(
          found.map((t) => ({ ...t, attempts: `${t.attempts}/${t.maxRetries + 1}`, created: ago(t.createdAt) })),
          [['id', 'ID'], ['task', 'TASK'], ['state', 'STATE'], ['queue', 'QUEUE'], ['region', 'REGION'], ['attempts', 'ATTEMPTS'], ['created', 'CREATED'], ['worker', 'WORKER']],
        ),
  );
  return 0;
}

// ---- revoke

const revokeUsage = `usage: drover revoke ID [--terminate]
Revokes a task: one not yet running never runs. A running task is left to finish unless
--terminate is given: then its attempt is ended (the handler's abort signal fires at its next
heartbeat) and the task ends revoked. Exit 1 if the task already ended, or is running without
--terminate.
${HUB_USAGE}`;

async function revoke(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { ...HUB_FLAGS, terminate: { type: 'boolean', default: false } } });
  if (positionals.length !== 1) throw new UsageError('one task id is needed');
  const hub = hubOf(values);
  const id = encodeURIComponent(positionals[0]);
  if (!values.terminate) {
    const t = await hub.call<TaskRecord>('GET', `/v1/tasks/${id}`);
    if (t.state === 'running') {
      process.stderr.write(`drover revoke: ${t.id} is running; --terminate ends its attempt\n`);
      return 1;
    }
  }
  const out = await hub.call<{ state: string }>('POST', `/v1/tasks/${id}/revoke`, {});
  show(values.json!, { id: positionals[0], ...out }, () => `${positionals[0]} ${out.state}`);
  return 0;
}

export const enqueueCommand: Command = { name: 'enqueue', summary: 'enqueue a task by name', usage: enqueueUsage, run: enqueue };
export const taskCommand: Command = { name: 'task', summary: 'show a task: state, result, error and traceback, workflow', usage: taskUsage, run: task };
export const tasksCommand: Command = { name: 'tasks', summary: 'list tasks by queue, state, name, region or time', usage: tasksUsage, run: tasks };
export const revokeCommand: Command = { name: 'revoke', summary: 'revoke a task (--terminate: a running one too)', usage: revokeUsage, run: revoke };
