// `drover control`: a command to running workers (shutdown, grow, shrink, rate-limit, cancel-consumer, ping), and their replies.
import { parseArgs } from 'node:util';
import { UsageError, type Command } from './command.ts';
import { HUB_FLAGS, hubOf, show } from './hub.ts';

const usage = `usage: drover control WORKER... COMMAND [ARGS]   or   drover control --all [--queue Q] [--region R] COMMAND [ARGS]
                      [--wait SECONDS] [--url URL] [--token TOKEN] [--json]
Sends a command to the named workers, or to every alive one (--all, narrowed by --queue and
--region), and prints each worker's reply. Needs an admin token. Commands:
  ping                    the worker answers "pong"
  shutdown                warm shutdown: it stops claiming, lets running tasks finish, exits
  grow N | shrink N       N more or fewer slots (1-1000)
  rate-limit TASK RATE    start at most RATE of TASK ("10/s", "100/m", "1000/h"; "none" lifts it)
  cancel-consumer QUEUE   stop claiming from QUEUE
--wait: how long to wait for replies, 0-30 seconds (default 5); workers that did not answer by
then are named. Exits 1 if a worker answered with an error, or none answered.`;

const COMMANDS = ['ping', 'shutdown', 'grow', 'shrink', 'rate-limit', 'cancel-consumer'];

/** The command's args from the words after it. */
function argsOf(command: string, words: string[]): Record<string, unknown> {
  const want = (n: number, what: string) => {
    if (words.length !== n) throw new UsageError(`${command} takes ${what}`);
  };
  switch (command) {
    case 'ping':
    case 'shutdown':
      want(0, 'no arguments');
      return {};
    case 'grow':
    case 'shrink': {
      want(1, 'N, a number of slots (1-1000)');
      const n = Number(words[0]);
      if (!/^\d+$/.test(words[0]) || n < 1 || n > 1000) throw new UsageError(`${command} N: N must be a whole number from 1 to 1000, not "${words[0]}"`);
      return { n };
    }
    case 'rate-limit':
      want(2, 'TASK RATE, such as: rate-limit scrape.page 10/s (RATE "none" lifts the limit)');
      return { task: words[0], rate: words[1] === 'none' || words[1] === 'null' ? null : words[1] };
    default:
      want(1, 'QUEUE');
      return { queue: words[0] };
  }
}

interface Answer {
  id: string;
  replies: { worker: string; ok: boolean; reply?: unknown; error?: { type: string; message: string }; replyOmitted?: boolean }[];
  pending: string[];
  expired: string[];
  skipped: { worker: string; state: string }[];
}

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { ...HUB_FLAGS, all: { type: 'boolean', default: false }, queue: { type: 'string' }, region: { type: 'string' }, wait: { type: 'string', default: '5' } },
  });
  const at = positionals.findIndex((p) => COMMANDS.includes(p));
  if (at < 0) throw new UsageError(`a command is needed: ${COMMANDS.join(', ')}`);
  const workers = positionals.slice(0, at);
  const command = positionals[at];
  if (values.all === (workers.length > 0)) throw new UsageError('name the workers, or give --all (not both)');
  if (!values.all && (values.queue || values.region)) throw new UsageError('--queue and --region narrow --all only');
  const wait = Number(values.wait);
  if (!/^\d+(\.\d+)?$/.test(values.wait!) || wait > 30) throw new UsageError('--wait must be 0-30 seconds');
  const args = argsOf(command, positionals.slice(at + 1));
  const hub = hubOf(values);
  const body = {
    ...(values.all ? { all: true } : { workers }),
    ...(values.queue ? { queue: values.queue } : {}),
    ...(values.region ? { region: values.region } : {}),
    command, args, waitSeconds: wait,
  };
  const answer = await hub.call<Answer>('POST', '/v1/control', body);
  show(values.json, answer, () => {
    const lines = answer.replies.map((r) =>
      r.replyOmitted ? `${r.worker}: ${r.ok ? 'ok' : 'error'} (reply too large to show here)`
        : r.ok ? `${r.worker}: ${JSON.stringify(r.reply)}` : `${r.worker}: error ${r.error?.type}: ${r.error?.message}`);
    for (const w of answer.pending) lines.push(`${w}: no reply within ${wait}s (it may still answer within 10 minutes: GET /v1/control/${answer.id})`);
    for (const w of answer.expired) lines.push(`${w}: no reply, and it is gone`);
    for (const s of answer.skipped) lines.push(`${s.worker}: not sent (${s.state === 'unknown' ? 'no such worker' : s.state})`);
    return lines.join('\n');
  });
  if (answer.replies.length === 0) {
    if (!values.json) process.stderr.write(`drover control: no worker answered within ${wait}s\n`);
    return 1;
  }
  return answer.replies.some((r) => !r.ok) ? 1 : 0;
}

export const controlCommand: Command = { name: 'control', summary: 'send running workers a command (shutdown, grow, rate-limit, ...)', usage, run };
