// `drover workers`: the workers the hub has seen, alive, stale or gone, with what each runs now.
import { parseArgs } from 'node:util';
import type { Command } from './command.ts';
import { HUB_FLAGS, hubOf, show, table } from './hub.ts';

const usage = `usage: drover workers [--all] [--url URL] [--token TOKEN] [--json]
Lists the workers seen in the last day: state (alive: a heartbeat or claim lately; stale: none for
a while; gone: none for 5 minutes, or it stopped), region, queues, tasks running now, slots,
tasks processed, and when it was last seen. Gone workers only with --all. --json prints the
hub's answer (GET /v1/workers) as it is.`;

interface Worker {
  name: string;
  state: 'alive' | 'stale' | 'gone';
  region: string | null;
  queues: string[];
  lastSeen: string;
  inHand: number;
  concurrency: number | null;
  activeCount: number | null;
  processed: number | null;
}

/** "3s ago", "4m ago", "2h ago": how long since a time, as people read it at a glance. */
export function ago(iso: string, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  return `${Math.floor(s / 3600)}h ago`;
}

async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { ...HUB_FLAGS, all: { type: 'boolean', default: false } } });
  const hub = hubOf(values);
  const { workers } = await hub.call<{ workers: Worker[] }>('GET', '/v1/workers');
  const shown = values.all ? workers : workers.filter((w) => w.state !== 'gone');
  show(values.json, { workers: shown }, () => {
    if (shown.length === 0) return values.all ? 'no worker seen in the last day' : 'no worker alive or stale (--all shows gone ones)';
    const rows = shown.map((w) => ({
      ...w,
      region: w.region ?? 'any',
      queues: w.queues.join(','),
      // A worker that only claims (no heartbeat) tells only its jobs in hand.
      active: w.activeCount ?? w.inHand,
      seen: ago(w.lastSeen),
    }));
    return table(rows, [['name', 'NAME'], ['state', 'STATE'], ['region', 'REGION'], ['queues', 'QUEUES'], ['active', 'ACTIVE'], ['concurrency', 'CONCURRENCY'], ['processed', 'PROCESSED'], ['seen', 'LAST SEEN']]);
  });
  return 0;
}

export const workersCommand: Command = { name: 'workers', summary: 'list workers: alive, stale or gone, with their active tasks', usage, run };
