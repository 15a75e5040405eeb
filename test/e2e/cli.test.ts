// The operator's command line, run as a user runs it: `node bin/drover.ts COMMAND` as a subprocess
// against the test system, configured by DROVER_URL and DROVER_TOKEN, including its failures.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runDrover, type Run } from './drover-cli.ts';
import { Api, TOKENS, freePort, uniqueQueue } from './system.ts';
import { spawnWorker, waitFor, type WorkerProcess } from './workers.ts';

const url = inject('hubUrl');
const api = new Api(url);

const drover = (args: string[], env: Record<string, string | undefined> = {}) => runDrover(url, args, env);

async function json(args: string[], env: Record<string, string | undefined> = {}) {
  const run = await drover([...args, '--json'], env);
  expect(run.code, run.stderr).toBe(0);
  return JSON.parse(run.stdout);
}

const COMMANDS = ['worker', 'init', 'deploy', 'enqueue', 'task', 'tasks', 'revoke', 'queues', 'queue', 'dead', 'keys', 'schedules', 'events', 'top', 'workers', 'control', 'broadcast'];

describe('help', () => {
  it('lists every command, and each command answers --help with its usage and exit 0', async () => {
    const all = await drover(['--help']);
    expect(all.code).toBe(0);
    for (const name of COMMANDS) expect(all.stdout).toMatch(new RegExp(`^\\s+${name}\\s+\\S`, 'm'));
    expect(all.stdout).toMatch(/exit codes: 0 done; 1 .*; 2 usage/);
    const helps = await Promise.all(COMMANDS.map((name) => drover([name, '--help'])));
    helps.forEach((h, i) => {
      expect(h.code, COMMANDS[i]).toBe(0);
      expect(h.stdout).toMatch(new RegExp(`^usage: drover ${COMMANDS[i]}\\b`));
    });
  });

  it('answers a usage mistake with exit 2 and the usage', async () => {
    for (const args of [['frobnicate'], [], ['tasks', '--bogus'], ['enqueue'], ['enqueue', 'x', '--args', '{"not": "a list"}'], ['tasks', '--state', 'sleeping'], ['queue']]) {
      const run = await drover(args);
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stderr).toMatch(/usage: drover/);
    }
    const noToken = await drover(['queues'], { DROVER_TOKEN: undefined });
    expect(noToken.code).toBe(2);
    expect(noToken.stderr).toMatch(/--token \(or DROVER_TOKEN\) is needed/);
  });
});

describe('tasks', () => {
  it('enqueues, lists, shows and revokes a task by name, in tables and as JSON', async () => {
    const queue = uniqueQueue('cli');
    const made = await drover(['enqueue', 'report.build', '--args', '[1, "two"]', '--kwargs', '{"k": true}', '--queue', queue, '--region', 'cn', '--priority', '7']);
    expect(made.code, made.stderr).toBe(0);
    const [id, state] = made.stdout.trim().split(' ');
    expect(state).toBe('queued');
    const later = await json(['enqueue', 'report.build', '--queue', queue, '--countdown', '600']);
    expect(later.state).toBe('delayed');

    const record = (await api.get(`/v1/tasks/${id}`)).body;
    expect(record).toMatchObject({ task: 'report.build', args: [1, 'two'], kwargs: { k: true }, queue, region: 'cn', priority: 7 });

    const listed = await drover(['tasks', '--queue', queue]);
    expect(listed.stdout.split('\n')[0]).toMatch(/^ID\s+TASK\s+STATE\s+QUEUE\s+REGION/);
    expect(listed.stdout).toMatch(new RegExp(`${id}\\s+report\\.build\\s+queued\\s+${queue}\\s+cn`));
    expect(listed.stdout).toMatch(new RegExp(`${later.id}\\s+report\\.build\\s+delayed`));
    const delayedOnly = await json(['tasks', '--queue', queue, '--state', 'delayed']);
    expect(delayedOnly.tasks.map((t: any) => t.id)).toEqual([later.id]);

    const shown = await drover(['task', id]);
    expect(shown.stdout).toMatch(/^state\s+queued$/m);
    expect(shown.stdout).toMatch(new RegExp(`^queue\\s+${queue} \\(region cn\\)$`, 'm'));
    expect(shown.stdout).toMatch(/^args\s+\[1,"two"\]$/m);

    const revoked = await drover(['revoke', later.id]);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect((await api.get(`/v1/tasks/${later.id}`)).body.state).toBe('revoked');
    const again = await drover(['revoke', later.id]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/409 conflict: the task is already revoked/);
  });

  it('says why a task is not found, and a token the hub refuses exits 2', async () => {
    const missing = await drover(['task', '01J0000000000000000000000Z']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/404 not_found/);
    const bad = await drover(['tasks'], { DROVER_TOKEN: 'not-a-token' });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/401 unauthorized/);
    const underScoped = await drover(['queue', 'anything', 'pause'], { DROVER_TOKEN: TOKENS.enqueue });
    expect(underScoped.code).toBe(2);
    expect(underScoped.stderr).toMatch(/403 forbidden/);
  });

  it('exits 1 with a clear line when the hub is not there', async () => {
    const closed = await freePort();
    const run = await drover(['queues'], { DROVER_URL: `http://127.0.0.1:${closed}` });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(new RegExp(`cannot reach the hub at http://127.0.0.1:${closed}: ECONNREFUSED`));
    // The address tried is the one named, flag or environment; a stream fails the same way.
    const flagged = await drover(['events', '--url', `http://127.0.0.1:${closed}`]);
    expect(flagged.code).toBe(1);
    expect(flagged.stderr).toMatch(new RegExp(`cannot reach the hub at http://127.0.0.1:${closed}: ECONNREFUSED`));
  });
});

describe('with a worker', () => {
  const queue = uniqueQueue('cliw');
  let worker: WorkerProcess;
  beforeAll(() => {
    worker = spawnWorker({ url, token: TOKENS.consume, queue, name: 'cli-worker-1' });
  });
  afterAll(async () => {
    worker.signal('SIGTERM');
    await worker.exited;
  });

  it('waits for a result, and shows a failure with its traceback, in the dead letters, replayed and purged', async () => {
    const ok = await drover(['enqueue', 'test.add', '--args', '[1, 2, [3]]', '--queue', queue, '--wait', '30']);
    expect(ok.code, ok.stderr + ok.stdout).toBe(0);
    expect(ok.stdout).toMatch(/^state\s+succeeded$/m);
    expect(ok.stdout).toMatch(/^result\s+6$/m);
    expect(ok.stdout).toMatch(/^worker\s+cli-worker-1$/m);

    const bad = await drover(['enqueue', 'test.refuse', '--args', '["no such page"]', '--queue', queue, '--wait', '30']);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/^state\s+failed$/m);
    expect(bad.stdout).toMatch(/^error\s+NonRetryableError: no such page$/m);
    expect(bad.stdout).toMatch(/^traceback:\n {2}NonRetryableError: no such page\n {6}at .*tasks\.ts/m);
    const id = /^id\s+(\S+)$/m.exec(bad.stdout)![1];
    const firstEnd = (await api.get(`/v1/tasks/${id}`)).body.finishedAt;

    const dead = await drover(['dead', '--queue', queue]);
    expect(dead.stdout).toMatch(new RegExp(`${id}\\s+${queue}\\s+test\\.refuse\\s+1\\s+.*NonRetryableError: no such page`));
    const everywhere = await json(['dead']);
    expect(everywhere.tasks.map((t: any) => t.id)).toContain(id);

    // Replayed, it fails again (the handler refuses for good) and comes back as a dead letter.
    expect((await drover(['dead', 'replay', '--queue', queue, '--ids', id])).stdout.trim()).toBe('1 replayed');
    await waitFor('the replayed task to fail again', async () => {
      const t = (await api.get(`/v1/tasks/${id}`)).body;
      return t.state === 'failed' && t.finishedAt > firstEnd && t;
    });
    const refused = await drover(['dead', 'purge', '--queue', queue]);
    expect(refused.code).toBe(2); // no terminal to ask on, no --force
    expect((await api.get(`/v1/queues/${queue}`)).body.failed).toBe(1);
    expect((await drover(['dead', 'purge', '--queue', queue, '--force'])).stdout.trim()).toBe('1 purged');
    expect((await api.get(`/v1/queues/${queue}`)).body.failed).toBe(0);
  });

  it('shows queues, pauses and resumes one, and top shows the queue and the worker', async () => {
    const paused = await drover(['queue', queue, 'pause']);
    expect(paused.stdout.trim()).toBe(`${queue} paused`);
    const made = await json(['enqueue', 'test.add', '--args', '[5]', '--queue', queue]);
    const stats = await json(['queue', queue]);
    expect(stats).toMatchObject({ name: queue, paused: true, ready: 1 });
    const listed = await drover(['queues']);
    expect(listed.stdout).toMatch(new RegExp(`^${queue}\\s+1\\s+0\\s+0\\s+\\d+\\s+paused`, 'm'));
    expect((await api.get(`/v1/tasks/${made.id}`)).body.state).toBe('queued'); // held while paused
    await drover(['queue', queue, 'resume']);
    const done = await drover(['task', made.id, '--wait', '30']);
    expect(done.stdout).toMatch(/^state\s+succeeded$/m);

    const top = await drover(['top', '--once', '--interval', '0.5']);
    expect(top.code, top.stderr).toBe(0);
    expect(top.stdout).toMatch(/^QUEUE\s+READY\s+DELAYED\s+RUNNING\s+DEAD/m);
    expect(top.stdout).toMatch(new RegExp(`^${queue}\\s+0\\s+0\\s+0`, 'm'));
    expect(top.stdout).toMatch(/^cli-worker-1\s/m);

    const unknown = await drover(['queue', 'no-such-queue-here']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/no queue is named "no-such-queue-here"/);
  });

  it('follows the live events of a queue', async () => {
    // The stream is best effort and a queue starts publishing once it finds a listener: enqueue
    // until the follower has seen a task of this queue end, then it stops by itself (--count).
    let finished: Run | null = null;
    void drover(['events', '--queue', queue, '--state', 'succeeded', '--count', '1', '--json']).then((r) => (finished = r));
    let sent = 0;
    const run = await waitFor('an event on the stream', async () => {
      if (!finished && Date.now() - sent > 500) {
        sent = Date.now();
        await api.post('/v1/tasks', { task: 'test.add', args: [1], queue });
      }
      return finished;
    }, 60_000);
    expect(run.code, run.stderr).toBe(0);
    const event = JSON.parse(run.stdout.trim());
    expect(event).toMatchObject({ event: 'task', task: 'test.add', queue, state: 'succeeded', worker: 'cli-worker-1' });
  });
});

describe('waiting tasks', () => {
  it('shows the names waiting for a worker that runs them, and purges the waiting tasks', async () => {
    const queue = uniqueQueue('clip');
    await api.post('/v1/tasks/batch', { tasks: [
      { task: 'report.build', queue }, { task: 'report.build', queue }, { task: 'scrape.page', queue, region: 'cn' },
      { task: 'report.build', queue, delay: 600 },
    ] });
    const listed = await drover(['queues']);
    expect(listed.stdout).toMatch(new RegExp(`^${queue}\\s+3\\s+1\\s+0\\s+0\\s+.*report\\.build`, 'm'));
    expect(listed.stdout).toMatch(new RegExp(`^${queue}\\s.*scrape\\.page@cn`, 'm'));
    const stats = await drover(['queue', queue]);
    expect(stats.stdout).toMatch(/^waiting for a worker that runs report\.build: 2 ready$/m);
    expect(stats.stdout).toMatch(/^waiting for a worker that runs scrape\.page in region cn: 1 ready$/m);

    const refused = await drover(['queue', queue, 'purge']);
    expect(refused.code).toBe(2); // no terminal to ask on, no --force
    expect((await api.get(`/v1/queues/${queue}`)).body.ready).toBe(3);
    const purged = await drover(['queue', queue, 'purge', '--force']);
    expect(purged.stdout.trim()).toBe(`${queue}: 4 waiting task(s) purged`);
    expect(await json(['queue', queue])).toMatchObject({ ready: 0, delayed: 0 });
    const revoked = await json(['tasks', '--queue', queue, '--state', 'revoked', '--since', '5m']);
    expect(revoked.tasks).toHaveLength(4);
    expect((await json(['tasks', '--queue', queue, '--since', new Date(Date.now() + 60_000).toISOString()])).tasks).toHaveLength(0);
  });
});

describe('schedules', () => {
  it('runs a schedule now, whatever its slots', async () => {
    const id = `cli-run-${Date.now()}`;
    const queue = uniqueQueue('clir');
    await drover(['schedules', 'add', id, 'report.build', '--every', '3600', '--queue', queue, '--disabled']);
    const ran = await drover(['schedules', 'run', id]);
    expect(ran.code, ran.stderr).toBe(0);
    const taskId = /task (\S+) queued/.exec(ran.stdout)![1];
    const made = await json(['tasks', '--schedule', id]);
    expect(made.tasks.map((t: any) => t.id)).toEqual([taskId]);
    expect(made.tasks[0]).toMatchObject({ task: 'report.build', queue });
    const missing = await drover(['schedules', 'run', 'no-such-schedule']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/404 not_found/);
  });

  it('adds, lists, pauses, resumes and removes a schedule', async () => {
    const id = `cli-${Date.now()}`;
    const added = await drover(['schedules', 'add', id, 'report.build', '--every', '3600', '--args', '[1]', '--queue', uniqueQueue('clis')]);
    expect(added.code, added.stderr).toBe(0);
    const listed = await drover(['schedules']);
    expect(listed.stdout).toMatch(new RegExp(`^${id}\\s+report\\.build\\s+every 3600s\\s+on\\s+in (60m|59m)`, 'm'));
    await drover(['schedules', 'pause', id]);
    expect((await api.get(`/v1/schedules/${id}`)).body).toMatchObject({ enabled: false, args: [1], every: 3600 });
    await drover(['schedules', 'resume', id]);
    expect((await api.get(`/v1/schedules/${id}`)).body.enabled).toBe(true);
    expect((await drover(['schedules', 'rm', id])).code).toBe(0);
    expect((await api.get(`/v1/schedules/${id}`)).status).toBe(404);
    const gone = await drover(['schedules', 'rm', id]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/404 not_found/);
  });
});
