#!/usr/bin/env node
// The drover command line. Each subcommand is a module of its own (bin/<name>.ts) exporting a
// Command; this file only finds it, prints help, and turns what it returns or throws into an exit code.
import { UsageError, type Command } from './command.ts';
import { failure } from './hub.ts';

const COMMANDS: Record<string, () => Promise<Command>> = {
  worker: async () => (await import('./worker.ts')).worker,
  init: async () => (await import('./init.ts')).initCommand,
  deploy: async () => (await import('./deploy.ts')).deployCommand,
  enqueue: async () => (await import('./tasks.ts')).enqueueCommand,
  task: async () => (await import('./tasks.ts')).taskCommand,
  tasks: async () => (await import('./tasks.ts')).tasksCommand,
  revoke: async () => (await import('./tasks.ts')).revokeCommand,
  queues: async () => (await import('./queues.ts')).queuesCommand,
  queue: async () => (await import('./queues.ts')).queueCommand,
  dead: async () => (await import('./queues.ts')).deadCommand,
  keys: async () => (await import('./keys.ts')).keysCommand,
  schedules: async () => (await import('./schedules.ts')).schedulesCommand,
  events: async () => (await import('./events.ts')).eventsCommand,
  top: async () => (await import('./events.ts')).topCommand,
  workers: async () => (await import('./workers.ts')).workersCommand,
  control: async () => (await import('./control.ts')).controlCommand,
  broadcast: async () => (await import('./broadcast.ts')).broadcastCommand,
};

async function help(): Promise<string> {
  const lines = ['usage: drover COMMAND [options]   (drover COMMAND --help for its options)', '', 'commands:'];
  for (const load of Object.values(COMMANDS)) {
    const c = await load();
    lines.push(`  ${c.name.padEnd(10)} ${c.summary}`);
  }
  lines.push('', 'exit codes: 0 done; 1 what was asked for failed (or the hub is away); 2 usage: a bad flag, a request', '            the hub found malformed (400), or a token it refused (401, 403)');
  return lines.join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process[name === undefined ? 'stderr' : 'stdout'].write(`${await help()}\n`);
    return name === undefined ? 2 : 0;
  }
  const load = COMMANDS[name];
  if (!load) {
    process.stderr.write(`drover: unknown command "${name}"\n${await help()}\n`);
    return 2;
  }
  const command = await load();
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${command.usage}\n`);
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (err) {
    // parseArgs' own refusals (an unknown flag, a missing value) are usage too.
    const code = (err as { code?: string }).code;
    if (err instanceof UsageError || (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS'))) {
      process.stderr.write(`drover ${name}: ${(err as Error).message}\n${command.usage}\n`);
      return 2;
    }
    // The hub refused the request as malformed or the token (400, 401, 403): exit 2. It said no
    // to what was asked, or is away: exit 1.
    const why = failure(err);
    if (why) {
      process.stderr.write(`drover ${name}: ${why.line}\n`);
      return why.usage ? 2 : 1;
    }
    // Anything else: what was asked for failed. The message, not a stack (DROVER_DEBUG=1 shows it).
    process.stderr.write(`drover ${name}: ${process.env.DROVER_DEBUG ? (err as Error).stack : (err as Error).message}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
