// drover workers, drover control and drover broadcast as subprocesses against npm start, the test acting as the worker.
import { describe, expect, inject, it } from 'vitest';
import { runDrover } from './drover-cli.ts';
import { Api, TOKENS, freePort, uniqueQueue } from './system.ts';

const url = inject('hubUrl');
const api = new Api(url);

let counter = 0;
const uniqueWorker = (prefix = 'cli') => `${prefix}-${process.pid}-${Date.now().toString(36)}-${counter++}`;

const drover = (args: string[], env: Record<string, string> = {}) => runDrover(url, args, env);

function heartbeat(name: string, body: Record<string, unknown>) {
  return api.as(TOKENS.consume).post(`/v1/workers/${name}/heartbeat`, { concurrency: 4, ...body });
}

describe('drover workers', () => {
  it('prints a table of the workers, and --json the hub\'s answer', async () => {
    const name = uniqueWorker();
    const queue = uniqueQueue('cli');
    await heartbeat(name, { queues: [queue], region: 'weur', processed: 42, active: [{ id: 'a1', task: 't', queue, startedAt: '2026-12-05T08:00:00Z' }] });
    const { code, stdout } = await drover(['workers']);
    expect(code).toBe(0);
    expect(stdout.split('\n')[0]).toMatch(/^NAME\s+STATE\s+REGION\s+QUEUES\s+ACTIVE\s+CONCURRENCY\s+PROCESSED\s+LAST SEEN$/);
    const line = stdout.split('\n').find((l) => l.startsWith(name));
    expect(line).toMatch(new RegExp(`^${name}\\s+alive\\s+weur\\s+${queue}\\s+1\\s+4\\s+42\\s+\\d+s ago$`));
    const json = await drover(['workers', '--json']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout).workers.find((w: any) => w.name === name)).toMatchObject({ state: 'alive', region: 'weur', processed: 42, activeCount: 1 });
  });

  it('hides gone workers unless --all', async () => {
    const name = uniqueWorker('gone');
    await heartbeat(name, { queues: [uniqueQueue('cli')], leaving: true });
    expect((await drover(['workers'])).stdout).not.toContain(name);
    expect((await drover(['workers', '--all'])).stdout).toMatch(new RegExp(`${name}\\s+gone`));
  });

  it('exits 2 on a token the hub refuses, and 1 with a clear line when the hub is down', async () => {
    const bad = await drover(['workers'], { DROVER_TOKEN: 'not-a-token' });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('401 unauthorized');
    const closed = `http://127.0.0.1:${await freePort()}`;
    const down = await drover(['workers'], { DROVER_URL: closed });
    expect(down.code).toBe(1);
    expect(down.stderr).toContain(`drover workers: cannot reach the hub at ${closed}`);
  });
});

describe('drover control', () => {
  it('prints the reply of a worker, and who was not sent the command', async () => {
    const name = uniqueWorker();
    const queues = [uniqueQueue('cli')];
    await heartbeat(name, { queues });
    // The worker: a held heartbeat gets the command, the next one replies.
    const worker = (async () => {
      for (let i = 0; i < 20; i++) {
        const res = await heartbeat(name, { queues, waitSeconds: 2 });
        const [c] = res.body.commands;
        if (c) return heartbeat(name, { queues, replies: [{ id: c.id, ok: true, reply: { concurrency: 4 + c.args.n } }] });
      }
    })();
    const nobody = uniqueWorker('nobody');
    const { code, stdout } = await drover(['control', name, nobody, 'grow', '3', '--wait', '20']);
    await worker;
    expect(code).toBe(0);
    expect(stdout).toContain(`${name}: {"concurrency":7}`);
    expect(stdout).toContain(`${nobody}: not sent (no such worker)`);
  });

  it('exits 1 when a worker answers an error, or none answers in time', async () => {
    const name = uniqueWorker();
    const queues = [uniqueQueue('cli')];
    await heartbeat(name, { queues });
    const silent = await drover(['control', name, 'ping', '--wait', '0.5']);
    expect(silent.code).toBe(1);
    expect(silent.stdout).toContain(`${name}: no reply within 0.5s`);
    // The worker answers every command; the ping it missed is still pending and comes first.
    const worker = (async () => {
      let replies: any[] = [];
      for (const deadline = Date.now() + 30_000; Date.now() < deadline;) {
        const res = await heartbeat(name, { queues, replies, waitSeconds: 2 });
        replies = res.body.commands.map((c: any) =>
          c.command === 'cancel-consumer' ? { id: c.id, ok: false, error: { type: 'NotConsuming', message: `not consuming ${c.args.queue}` } } : { id: c.id, ok: true, reply: 'pong' });
        if (res.body.commands.some((c: any) => c.command === 'cancel-consumer')) return heartbeat(name, { queues, replies });
      }
    })();
    const failed = await drover(['control', name, 'cancel-consumer', 'other', '--wait', '20']);
    await worker;
    expect(failed.code).toBe(1);
    expect(failed.stdout).toContain(`${name}: error NotConsuming: not consuming other`);
  });

  it('exits 1 for an unknown worker, 2 for usage mistakes and a refused token', async () => {
    const unknown = await drover(['control', uniqueWorker('nobody'), 'ping']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('404 not_found');
    expect((await drover(['control', 'w', 'grow', 'many'])).code).toBe(2);
    expect((await drover(['control', 'w'])).code).toBe(2);
    expect((await drover(['control', '--all', 'w', 'ping'])).code).toBe(2);
    expect((await drover(['control', 'w', 'ping'], { DROVER_TOKEN: TOKENS.enqueue })).code).toBe(2);
    const help = await drover(['control', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('usage: drover control');
  });
});

describe('drover broadcast', () => {
  it('sends the task, waits for each worker\'s result and prints it; exit 1 when none qualifies', async () => {
    const name = uniqueWorker('bc');
    const queue = uniqueQueue('cli-bc');
    const queues = [queue];
    await heartbeat(name, { queues, tasks: ['cache.flush'] });
    const worker = (async () => {
      for (let i = 0; i < 20; i++) {
        const res = await heartbeat(name, { queues, tasks: ['cache.flush'], waitSeconds: 2 });
        const [c] = res.body.commands;
        if (c) return heartbeat(name, { queues, tasks: ['cache.flush'], replies: [{ id: c.id, ok: true, reply: { flushed: c.args.kwargs.scope } }] });
      }
    })();
    const { code, stdout, stderr } = await drover(['broadcast', 'cache.flush', '--queue', queue, '--kwargs', '{"scope":"all"}', '--wait', '20']);
    await worker;
    expect(code).toBe(0);
    expect(stderr).toContain(`sent to 1 worker(s): ${name}`);
    expect(stdout).toMatch(new RegExp(`${name}\\s+succeeded\\s+\\{"flushed":"all"\\}`));
    const none = await drover(['broadcast', 'cache.flush', '--queue', uniqueQueue('cli-none')]);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('409 conflict');
    expect((await drover(['broadcast', 'cache.flush', '--queue', queue, '--args', '{"not":"an array"}'])).code).toBe(2);
  });
});
