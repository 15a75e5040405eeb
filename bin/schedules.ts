// `drover schedules [list|add|rm|run|pause|resume]`: the beat schedules, as the hub keeps them.
import { parseArgs } from 'node:util';
import { UsageError, type Command } from './command.ts';
import { HUB_FLAGS, ago, hubOf, jsonFlag, numberFlag, show, table, type Hub } from './hub.ts';

interface Schedule {
  id: string;
  cron: string | null;
  every: number | null;
  timezone: string;
  task: string;
  queue: string | null;
  region: string | null;
  enabled: boolean;
  source: 'api' | 'code';
  nextRunAt: string | null;
  lastRunAt: string | null;
  lastTaskId: string | null;
  [field: string]: unknown;
}

const usage = `usage: drover schedules [list]
       drover schedules add ID TASK (--cron EXPR [--timezone TZ] | --every SECONDS) [--args JSON]
                        [--kwargs JSON] [--queue Q] [--region R] [--priority 0-9] [--catch-up latest|all|none]
                        [--disabled]
       drover schedules rm ID
       drover schedules run ID        enqueue its task once now, whatever its slots
       drover schedules pause ID      no slot runs until resume (run still works)
       drover schedules resume ID
Schedules declared in code (source "code") are listed and run, not changed.
  --url URL, --token TOKEN   the hub and an admin token (default $DROVER_URL, $DROVER_TOKEN)
  --json                      the hub's answer as JSON, for scripts`;

function until(iso: string | null): string {
  if (!iso) return '-';
  const s = Math.round((Date.parse(iso) - Date.now()) / 1000);
  return s <= 0 ? 'due' : s < 120 ? `in ${s}s` : s < 7200 ? `in ${Math.round(s / 60)}m` : `in ${Math.round(s / 3600)}h`;
}

async function setEnabled(hub: Hub, id: string, enabled: boolean): Promise<Schedule> {
  const path = `/v1/schedules/${encodeURIComponent(id)}`;
  const current = await hub.call<Schedule>('GET', path);
  // PUT takes the whole definition: send back what GET answered, less what the hub adds.
  const { source, nextRunAt, lastRunAt, lastTaskId, createdAt, updatedAt, ...definition } = current;
  void [source, nextRunAt, lastRunAt, lastTaskId, createdAt, updatedAt];
  return hub.call<Schedule>('PUT', path, { ...Object.fromEntries(Object.entries(definition).filter(([, v]) => v !== null)), enabled });
}

async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      ...HUB_FLAGS,
      cron: { type: 'string' },
      every: { type: 'string' },
      timezone: { type: 'string' },
      args: { type: 'string' },
      kwargs: { type: 'string' },
      queue: { type: 'string' },
      region: { type: 'string' },
      priority: { type: 'string' },
      'catch-up': { type: 'string' },
      disabled: { type: 'boolean', default: false },
    },
  });
  const [action = 'list', ...rest] = positionals;
  const hub = hubOf(values);
  const one = (what: string) => {
    if (rest.length !== 1) throw new UsageError(`schedules ${action} needs ${what}`);
    return rest[0];
  };
  switch (action) {
    case 'list': {
      if (rest.length) throw new UsageError('schedules list takes no arguments');
      const { schedules } = await hub.call<{ schedules: Schedule[] }>('GET', '/v1/schedules');
      show(values.json!, { schedules }, () =>
        schedules.length === 0
          ? 'no schedules'
          : table(
              schedules.map((s) => ({
                ...s,
                when: s.cron ? `${s.cron}${s.timezone !== 'UTC' ? ` ${s.timezone}` : ''}` : `every ${s.every}s`,
                state: s.enabled ? 'on' : 'paused',
                next: s.enabled ? until(s.nextRunAt) : '-',
                last: ago(s.lastRunAt),
              })),
              [['id', 'ID'], ['task', 'TASK'], ['when', 'WHEN'], ['state', 'STATE'], ['next', 'NEXT'], ['last', 'LAST'], ['lastTaskId', 'LAST TASK'], ['source', 'SOURCE']],
            ),
      );
      return 0;
    }
    case 'add': {
      if (rest.length !== 2) throw new UsageError('schedules add needs an id and a task name');
      if ((values.cron === undefined) === (values.every === undefined)) throw new UsageError('give --cron or --every, exactly one');
      const body = Object.fromEntries(
        Object.entries({
          id: rest[0],
          task: rest[1],
          cron: values.cron,
          every: numberFlag('every', values.every, 1, 31_536_000),
          timezone: values.timezone,
          args: jsonFlag('args', values.args, 'array'),
          kwargs: jsonFlag('kwargs', values.kwargs, 'object'),
          queue: values.queue,
          region: values.region,
          priority: numberFlag('priority', values.priority, 0, 9, true),
          catchUp: values['catch-up'],
          enabled: values.disabled ? false : undefined,
        }).filter(([, v]) => v !== undefined),
      );
      const made = await hub.call<Schedule>('POST', '/v1/schedules', body);
      show(values.json!, made, () => `${made.id} added; next run ${made.nextRunAt ?? '-'}`);
      return 0;
    }
    case 'rm': {
      const id = one('a schedule id');
      const out = await hub.call<{ id: string }>('DELETE', `/v1/schedules/${encodeURIComponent(id)}`);
      show(values.json!, out, () => `${out.id} removed`);
      return 0;
    }
    case 'run': {
      const id = one('a schedule id');
      const out = await hub.call<{ id: string; state: string }>('POST', `/v1/schedules/${encodeURIComponent(id)}/run`);
      show(values.json!, out, () => `${id}: task ${out.id} ${out.state}`);
      return 0;
    }
    case 'pause':
    case 'resume': {
      const s = await setEnabled(hub, one('a schedule id'), action === 'resume');
      show(values.json!, s, () => `${s.id} ${s.enabled ? `resumed; next run ${s.nextRunAt}` : 'paused'}`);
      return 0;
    }
    default:
      throw new UsageError(`unknown action "${action}": list, add, rm, run, pause or resume`);
  }
}

export const schedulesCommand: Command = { name: 'schedules', summary: 'list, add, remove, run, pause or resume schedules', usage, run };
