// The queue commands: `drover queues`, `drover queue NAME stats|pause|resume|purge`, `drover dead`.
import { createInterface } from 'node:readline/promises';
import { parseArgs } from 'node:util';
import type { DeadLetter, QueueRecord } from '../src/protocol/records.ts';
import { UsageError, type Command } from './command.ts';
import { HUB_FLAGS, ago, hubOf, numberFlag, show, table, type Hub } from './hub.ts';

type Queue = QueueRecord;

const HUB_USAGE = `  --url URL, --token TOKEN   the hub and a token (default $DROVER_URL, $DROVER_TOKEN)
  --json                      the hub's answer as JSON, for scripts`;

/** "waiting for a worker that runs X (region cn): 3 ready", one per name. */
export function waitingLines(q: Queue): string[] {
  return (q.unserved ?? []).map((u) => `waiting for a worker that runs ${u.task}${u.region ? ` in region ${u.region}` : ''}: ${u.ready} ready`);
}

// ---- queues

const queuesUsage = `usage: drover queues
Lists the queues: ready, delayed, running and dead tasks, whether paused, and the task names
waiting for a worker that runs them.
${HUB_USAGE}`;

async function queues(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: HUB_FLAGS });
  const { queues: list } = await hubOf(values).call<{ queues: Queue[] }>('GET', '/v1/queues');
  show(values.json!, { queues: list }, () => {
    if (list.length === 0) return 'no queues';
    const rows = list.map((q) => ({ ...q, paused: q.paused ? 'paused' : '', waiting: (q.unserved ?? []).map((u) => u.task + (u.region ? `@${u.region}` : '')).join(', ') }));
    const lines = [table(rows, [['name', 'QUEUE'], ['ready', 'READY'], ['delayed', 'DELAYED'], ['running', 'RUNNING'], ['failed', 'DEAD'], ['paused', 'PAUSED'], ['waiting', 'WAITING FOR A WORKER THAT RUNS']])];
    return lines.join('\n');
  });
  return 0;
}

// ---- queue NAME ACTION

const queueUsage = `usage: drover queue NAME [stats|pause|resume|purge] [--force]
  stats    (the default) its counts by state and region, limits, and names waiting for a worker
  pause    hand out nothing (enqueues still go in); resume undoes it
  purge    remove every waiting task (queued and delayed; running ones finish), which end revoked;
           asks first on a terminal, and needs --force otherwise
${HUB_USAGE}`;

function describeQueue(q: Queue): string {
  const lines = [
    `queue     ${q.name}${q.paused ? ' (paused)' : ''}`,
    `ready     ${q.ready}`,
    `delayed   ${q.delayed}`,
    `running   ${q.running}`,
    `dead      ${q.failed}`,
  ];
  const limits = Object.entries(q.config).filter(([, v]) => v !== null);
  if (limits.length) lines.push(`config    ${limits.map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : v}`).join(' ')}`);
  const regions = Object.entries(q.regions);
  if (regions.length) {
    lines.push('', table(regions.map(([region, c]) => ({ region: region === '_any' ? 'any' : region, ...c })), [['region', 'REGION'], ['ready', 'READY'], ['running', 'RUNNING']]));
  }
  const waiting = waitingLines(q);
  if (waiting.length) lines.push('', ...waiting);
  return lines.join('\n');
}

async function confirmed(question: string, force: boolean): Promise<boolean> {
  if (force) return true;
  if (!process.stdin.isTTY) throw new UsageError('purge removes tasks: pass --force to do it without a terminal to ask on');
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  const answer = await rl.question(`${question} [y/N] `);
  rl.close();
  return /^y(es)?$/i.test(answer.trim());
}

async function queue(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { ...HUB_FLAGS, force: { type: 'boolean', short: 'f', default: false } } });
  const [name, action = 'stats', ...extra] = positionals;
  if (!name || extra.length) throw new UsageError('a queue name and at most one action are needed, e.g. drover queue scrape pause');
  const hub = hubOf(values);
  const path = `/v1/queues/${encodeURIComponent(name)}`;
  switch (action) {
    case 'stats': {
      // An unknown queue reads as empty to the API; asked by name, say it does not exist.
      const { queues: known } = await hub.call<{ queues: Queue[] }>('GET', '/v1/queues');
      if (!known.some((q) => q.name === name)) {
        process.stderr.write(`drover queue: no queue is named "${name}" (a queue exists once a task was enqueued to it or it was configured)\n`);
        return 1;
      }
      const q = await hub.call<Queue>('GET', path);
      show(values.json!, q, () => describeQueue(q));
      return 0;
    }
    case 'pause':
    case 'resume': {
      const out = await hub.call<{ name: string; paused: boolean }>('POST', `${path}/${action}`);
      show(values.json!, out, () => `${out.name} ${out.paused ? 'paused' : 'resumed'}`);
      return 0;
    }
    case 'purge': {
      if (!(await confirmed(`remove every waiting task of ${name}?`, values.force!))) return 1;
      // One call purges a bounded number of tasks and answers more: true while some still wait.
      let purged = 0;
      for (;;) {
        const out = await hub.call<{ name: string; purged: number; more: boolean }>('POST', `${path}/purge`);
        purged += out.purged;
        if (!out.more) break;
      }
      show(values.json!, { name, purged }, () => `${name}: ${purged} waiting task(s) purged`);
      return 0;
    }
    default:
      throw new UsageError(`unknown action "${action}": stats, pause, resume or purge`);
  }
}

// ---- dead [list|replay|purge]

const deadUsage = `usage: drover dead [list|replay|purge] [--queue Q] [--ids ID,ID,...] [--limit N] [--force]
  list     (the default) the dead letters, latest first: of --queue, or of every queue
  replay   run them again from attempt 1: those of --ids, or all of --queue
  purge    drop them from the queue (their task records stay failed); asks first on a terminal
${HUB_USAGE}`;

async function deadQueues(hub: Hub, queue: string | undefined): Promise<string[]> {
  if (queue) return [queue];
  const { queues: list } = await hub.call<{ queues: Queue[] }>('GET', '/v1/queues');
  return list.filter((q) => q.failed > 0).map((q) => q.name);
}

async function dead(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { ...HUB_FLAGS, queue: { type: 'string' }, ids: { type: 'string' }, limit: { type: 'string' }, force: { type: 'boolean', short: 'f', default: false } },
  });
  const [action = 'list', ...extra] = positionals;
  if (extra.length) throw new UsageError('at most one action: list, replay or purge');
  const limit = numberFlag('limit', values.limit, 1, 1000, true) ?? 100;
  const ids = values.ids?.split(',').map((s) => s.trim()).filter(Boolean);
  const hub = hubOf(values);
  if (action === 'list') {
    const found: (DeadLetter & { queue: string })[] = [];
    for (const q of await deadQueues(hub, values.queue)) {
      const { tasks } = await hub.call<{ tasks: DeadLetter[] }>('GET', `/v1/queues/${encodeURIComponent(q)}/dead?limit=${limit}`);
      found.push(...tasks.map((t) => ({ ...t, queue: q })));
    }
    show(values.json!, { tasks: found }, () =>
      found.length === 0
        ? 'no dead letters'
        : table(
            found.map((t) => ({ ...t, error: t.error ? `${t.error.type}: ${t.error.message}`.slice(0, 80) : null, failed: ago(t.finishedAt) })),
            [['id', 'ID'], ['queue', 'QUEUE'], ['task', 'TASK'], ['attempts', 'ATTEMPTS'], ['failed', 'FAILED'], ['error', 'ERROR']],
          ),
    );
    return 0;
  }
  if (action !== 'replay' && action !== 'purge') throw new UsageError(`unknown action "${action}": list, replay or purge`);
  if (!values.queue) throw new UsageError(`dead ${action} needs --queue (dead letters are kept per queue)`);
  if (action === 'purge' && !(await confirmed(`drop ${ids ? `${ids.length} dead letter(s)` : 'every dead letter'} of ${values.queue}?`, values.force!))) return 1;
  const path = `/v1/queues/${encodeURIComponent(values.queue)}/dead${action === 'replay' ? '/replay' : ''}`;
  const out = await hub.call<{ replayed?: number; purged?: number }>(action === 'replay' ? 'POST' : 'DELETE', path, ids ? { ids } : {});
  show(values.json!, out, () => (action === 'replay' ? `${out.replayed} replayed` : `${out.purged} purged`));
  return 0;
}

export const queuesCommand: Command = { name: 'queues', summary: 'list queues with their counts', usage: queuesUsage, run: queues };
export const queueCommand: Command = { name: 'queue', summary: "a queue's stats; pause, resume or purge it", usage: queueUsage, run: queue };
export const deadCommand: Command = { name: 'dead', summary: 'list, replay or purge dead letters', usage: deadUsage, run: dead };
