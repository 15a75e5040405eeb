// Pull workers over HTTP: region isolation under concurrency, the typed SDK client, and a worker with no SDK.
import { spawnSync } from 'node:child_process';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { createClient, defineTask, HubError, TaskFailedError } from '../../src/sdk/index.ts';
import { PullWorker } from '../../src/sdk/pull.ts';
import { echo, nap, refuse } from '../fixtures/tasks.ts';
import { Api, TOKENS, uniqueQueue } from './system.ts';
import { spawnWorker, waitFor } from './workers.ts';

const url = inject('hubUrl');
const root = resolve(import.meta.dirname, '..', '..');
const api = new Api(url);

async function allFinal(queue: string, n: number) {
  return waitFor(`${n} final tasks in ${queue}`, async () => {
    const { body } = await api.get(`/v1/tasks?queue=${queue}&limit=500`);
    const done = body.tasks.filter((t: any) => ['succeeded', 'failed', 'revoked', 'expired'].includes(t.state));
    return done.length >= n ? body.tasks : null;
  }, 60_000);
}

describe('region isolation', () => {
  it('never lets a task cross regions, with several workers per region pulling at once', async () => {
    const queue = uniqueQueue('iso');
    const tasks = ['cn', 'weur', null].flatMap((region) =>
      Array.from({ length: 100 }, (_, i) => ({ task: 'test.echo', args: [region, i], queue, region })),
    );
    await api.post('/v1/tasks/batch', { tasks });
    const workers = [
      spawnWorker({ url, token: TOKENS.cn, queue, region: 'cn', name: 'cn-1' }),
      spawnWorker({ url, token: TOKENS.cn, queue, region: 'cn', name: 'cn-2' }),
      spawnWorker({ url, token: TOKENS.weur, queue, region: 'weur', name: 'weur-1' }),
      spawnWorker({ url, token: TOKENS.weur, queue, region: 'weur', name: 'weur-2' }),
      spawnWorker({ url, token: TOKENS.consume, queue, name: 'any-1' }),
    ];
    try {
      const done = await allFinal(queue, 300);
      const crossed = done.filter((t: any) => t.region && !t.worker.startsWith(`${t.region}-`));
      expect(crossed).toEqual([]);
      expect(done.every((t: any) => t.state === 'succeeded' && t.attempts === 1)).toBe(true);
      const ranBy = (region: string | null) => new Set(done.filter((t: any) => t.region === region).map((t: any) => t.worker));
      expect([...ranBy('cn')].sort()).toEqual(['cn-1', 'cn-2']);
      expect([...ranBy('weur')].sort()).toEqual(['weur-1', 'weur-2']);
      expect(done.filter((t: any) => t.result.worker !== t.worker)).toEqual([]);
    } finally {
      for (const w of workers) w.signal('SIGTERM');
      expect(await Promise.all(workers.map((w) => w.exited))).toEqual([0, 0, 0, 0, 0]);
    }
  });
});

describe('the SDK', () => {
  it('enqueues typed tasks and waits for their results, failures and revocations', async () => {
    const queue = uniqueQueue('sdk');
    const client = createClient({ url, token: TOKENS.weur });
    const worker = spawnWorker({ url, token: TOKENS.consume, queue, name: 'sdk-1', concurrency: 4 });
    try {
      const handle = await client.enqueue(echo, ['hello', 42], { queue });
      expect(handle.state).toBe('queued');
      const result = await handle.wait({ timeoutSeconds: 30 });
      expect(result).toMatchObject({ args: ['hello', 42], worker: 'sdk-1', attempt: 1 });

      const refused = await client.enqueue(refuse, ['bad input'], { queue });
      const err = await refused.wait({ timeoutSeconds: 30 }).catch((e) => e);
      expect(err).toBeInstanceOf(TaskFailedError);
      expect(err.state).toBe('failed');
      expect((await refused.get()).attempts).toBe(1);

      const long = await client.enqueue(nap, [20_000], { queue, timeout: 3 });
      await waitFor('the nap to start', async () => (await long.get()).state === 'running');
      await client.revoke(long.id);
      const revoked = await long.wait({ timeoutSeconds: 30 }).catch((e) => e);
      expect(revoked.state).toBe('revoked');

      const again = await client.enqueue(echo, [1], { queue, idempotencyKey: `${queue}-once` });
      const dup = await client.enqueue(echo, [2], { queue, idempotencyKey: `${queue}-once` });
      expect(dup.duplicate).toBe(true);
      expect(dup.id).toBe(again.id);
    } finally {
      worker.signal('SIGTERM');
      expect(await worker.exited).toBe(0);
    }
  });
});

describe('a worker written without the SDK', () => {
  it('works a queue in Python with plain HTTP', async () => {
    const queue = uniqueQueue('py');
    const tasks = [
      ...Array.from({ length: 20 }, (_, i) => ({ task: 'py.add', args: [i, i, 1], queue })),
      { task: 'py.progress', queue },
      { task: 'py.reject', queue },
    ];
    const { body } = await api.post('/v1/tasks/batch', { tasks });
    const run = spawnSync('python3', [resolve(import.meta.dirname, '../fixtures/plain_worker.py'), url, TOKENS.consume, queue], { encoding: 'utf8', timeout: 60_000 });
    expect(run.status, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ done: 22 });
    const results = await Promise.all(body.tasks.map((t: any) => api.get(`/v1/tasks/${t.id}`).then((r) => r.body)));
    expect(results.slice(0, 20).map((t: any) => t.result)).toEqual(Array.from({ length: 20 }, (_, i) => ({ sum: 2 * i + 1, by: 'python' })));
    expect(results[20]).toMatchObject({ state: 'succeeded', result: 'done', worker: 'python-1' });
    expect(results[21]).toMatchObject({ state: 'failed', error: { type: 'Rejected' } });
  });
});

describe('a busy worker', () => {
  // A hub whose answers to acks wait until the test lets them go: what a worker does meanwhile
  // cannot be arranged with the real hub, which answers as soon as it can.
  async function slowAckHub(jobs: number) {
    const claims: number[] = [];
    const acked: string[] = [];
    let held: (() => void)[] = [];
    let heldAcks = 0;
    let handedOut = 0;
    const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
      let text = '';
      for await (const chunk of req) text += chunk;
      const body = JSON.parse(text || '{}');
      const answer = (value: unknown) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(value));
      if (req.url === '/v1/queues/busy/claim') {
        claims.push(body.max);
        const n = Math.min(body.max, jobs - handedOut);
        const expires = new Date(Date.now() + 60_000).toISOString();
        const given = Array.from({ length: n }, (_, i) => {
          const id = `job-${handedOut + i}`;
          return { id, task: 'busy.noop', args: [], kwargs: {}, queue: 'busy', region: null, priority: 0, maxRetries: 0, leaseId: `lease-${id}`, attempt: 1, leaseExpiresAt: expires };
        });
        handedOut += n;
        if (n === 0) await new Promise((r) => setTimeout(r, 50));
        return answer({ jobs: given });
      }
      if (req.url === '/v1/leases/ack') {
        heldAcks += body.acks.length;
        await new Promise<void>((r) => held.push(r));
        heldAcks -= body.acks.length;
        acked.push(...body.acks.map((a: { leaseId: string }) => a.leaseId));
        return answer({ results: body.acks.map((a: { leaseId: string }) => ({ leaseId: a.leaseId, state: 'succeeded' })) });
      }
      res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      claims,
      acked,
      /** Acks sent and not yet answered. */
      heldAcks: () => heldAcks,
      letAcksGo: () => {
        for (const go of held) go();
        held = [];
      },
      close: () => new Promise((r) => server.close(r)),
    };
  }

  it('claims its next jobs while the acks of its last ones are on the way, up to its concurrency of them', async () => {
    const hub = await slowAckHub(30);
    const noop = defineTask('busy.noop', async () => null);
    const worker = new PullWorker({ url: hub.url, token: 't', queue: 'busy', tasks: [noop], concurrency: 10, socket: false, waitSeconds: 1, log: () => {} });
    void worker.run();
    try {
      await waitFor('two claims, both answered in full', async () => hub.claims.length >= 2 || null, 5_000);
      await waitFor('the acks of both claims sent', async () => hub.heldAcks() >= 20 || null, 5_000);
      // 20 jobs await their acks' answers: twice its concurrency, so it claims no more until they come.
      await new Promise((r) => setTimeout(r, 300));
      expect(hub.claims).toEqual([10, 10]);
      expect(hub.acked).toEqual([]);
      expect(worker.counts.succeeded).toBe(0);

      hub.letAcksGo();
      await waitFor('the last 10 jobs claimed', async () => hub.claims.length >= 3 || null, 5_000);
      expect(hub.claims[2]).toBe(10);
      await waitFor('all 30 acked', async () => {
        hub.letAcksGo();
        return hub.acked.length >= 30 || null;
      }, 5_000);
      expect(new Set(hub.acked).size).toBe(30);
      await waitFor('every ack answered', async () => worker.counts.succeeded === 30 || null, 5_000);
    } finally {
      const stopped = worker.stop();
      hub.letAcksGo();
      await stopped;
      await hub.close();
    }
  });
});

describe('a token the hub refuses', () => {
  it.each([
    ['an unknown token', 'no-such-token', null, 401],
    ['a token without the consume scope', TOKENS.enqueue, null, 403],
    ['a token of another region', TOKENS.cn, 'weur', 403],
  ])('ends the worker with the hub\'s error for %s, saying what it needs, instead of retrying forever', async (_what, token, region, status) => {
    const logs: string[] = [];
    const worker = new PullWorker({ url, token: token as string, queue: uniqueQueue('refused'), region: region as string | null, tasks: [echo], log: (m) => logs.push(m) });
    const outcome = await worker.run().then(
      () => null,
      (err: unknown) => err,
    );
    expect(outcome).toBeInstanceOf(HubError);
    expect((outcome as HubError).status).toBe(status);
    expect(logs.join('\n')).toMatch(new RegExp(`refuses this worker's token \\(${status} .*needs a token with the scope consume${region ? `@${region}` : ''}, consume or admin`));
    expect(logs.filter((l) => /retrying/.test(l))).toEqual([]);
  });

  it('makes `drover worker` exit 2 with that line', () => {
    const run = spawnSync(process.execPath, [resolve(root, 'bin', 'drover.ts'), 'worker', '--url', url, '--token', TOKENS.enqueue, '--queue', uniqueQueue('refused'), resolve(root, 'test', 'fixtures', 'tasks.ts')], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(run.status, run.stderr).toBe(2);
    expect(run.stderr).toMatch(/refuses this worker's token \(403 forbidden: .*needs a token with the scope consume, consume or admin/);
  });
});
