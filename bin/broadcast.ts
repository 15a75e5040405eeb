// `drover broadcast`: runs a task once on every alive worker of a queue (a config reload, a cache flush), and shows each result.
import { parseArgs } from 'node:util';
import { UsageError, type Command } from './command.ts';
import { HUB_FLAGS, hubOf, show, table } from './hub.ts';

const usage = `usage: drover broadcast TASK --queue Q [--region R] [--args JSON] [--kwargs JSON] [--wait SECONDS]
                        [--url URL] [--token TOKEN] [--json]
Runs TASK once on every alive worker that consumes queue Q (in region R, if given) and has TASK,
then waits up to --wait seconds (default 30) for each worker's result and prints them.
--args is a JSON array, --kwargs a JSON object. Exits 1 if no worker qualifies, a worker
failed, or a worker had not answered by the end of the wait.`;

interface View {
  id: string;
  task: string;
  workers: { name: string; state: 'pending' | 'succeeded' | 'failed'; result: unknown; error: { type: string; message: string } | null }[];
}

function json(flag: string, text: string | undefined, kind: 'array' | 'object'): unknown {
  if (text === undefined) return kind === 'array' ? [] : {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new UsageError(`${flag} is not JSON: ${text}`);
  }
  if (kind === 'array' ? !Array.isArray(value) : typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new UsageError(`${flag} must be a JSON ${kind}`);
  }
  return value;
}

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { ...HUB_FLAGS, queue: { type: 'string' }, region: { type: 'string' }, args: { type: 'string' }, kwargs: { type: 'string' }, wait: { type: 'string', default: '30' } },
  });
  if (positionals.length !== 1) throw new UsageError('one task name is needed');
  if (!values.queue) throw new UsageError('--queue is needed');
  const wait = Number(values.wait);
  if (!/^\d+(\.\d+)?$/.test(values.wait!) || wait > 3600) throw new UsageError('--wait must be 0-3600 seconds');
  const body = {
    task: positionals[0], queue: values.queue, ...(values.region ? { region: values.region } : {}),
    args: json('--args', values.args, 'array'), kwargs: json('--kwargs', values.kwargs, 'object'),
  };
  const hub = hubOf(values);
  const sent = await hub.call<{ id: string; workers: string[] }>('POST', '/v1/broadcasts', body);
  if (!values.json) process.stderr.write(`broadcast ${sent.id} sent to ${sent.workers.length} worker(s): ${sent.workers.join(', ')}\n`);
  const deadline = Date.now() + wait * 1000;
  let view: View;
  for (;;) {
    view = await hub.call<View>('GET', `/v1/broadcasts/${sent.id}`);
    if (!view.workers.some((w) => w.state === 'pending') || Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, Math.min(500, Math.max(0, deadline - Date.now()))));
  }
  show(values.json, view, () =>
    table(
      view.workers.map((w) => ({
        name: w.name,
        state: w.state,
        outcome: w.state === 'succeeded' ? JSON.stringify(w.result) : w.state === 'failed' ? `${w.error?.type}: ${w.error?.message}` : `no answer within ${wait}s`,
      })),
      [['name', 'WORKER'], ['state', 'STATE'], ['outcome', 'RESULT OR ERROR']],
    ));
  return view.workers.every((w) => w.state === 'succeeded') ? 0 : 1;
}

export const broadcastCommand: Command = { name: 'broadcast', summary: 'run a task once on every alive worker of a queue', usage, run };
