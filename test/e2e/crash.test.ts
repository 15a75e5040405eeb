// kill -9 of the whole runtime under load, restart on the same state: every accepted task ends with one result.
import { afterAll, describe, expect, it } from 'vitest';
import { Api, TOKENS, sleep, startSystem, type System } from './system.ts';

let system: System | undefined;
afterAll(async () => {
  await system?.stop();
});

describe('a crash of the whole runtime', () => {
  it('loses no accepted task and records one result each', async () => {
    system = await startSystem();
    const { port, stateDir } = system;
    const api = new Api(system.url);
    const worker = api.as(TOKENS.consume);
    const queue = 'crash';
    const accepted = new Set<string>();
    const acked = new Map<string, number>();
    let running = true;

    const producer = async (p: number) => {
      for (let n = 0; running; n++) {
        const tasks = Array.from({ length: 20 }, (_, i) => ({ task: 'work', args: [p, n, i], queue, timeout: 3, retryDelay: 0.1 }));
        try {
          const res = await api.post('/v1/tasks/batch', { tasks });
          if (res.status === 202) for (const t of res.body.tasks) accepted.add(t.id);
        } catch {
          await sleep(100); // the hub is down: try again
        }
      }
    };
    // Every job is acked with its own id, so a result recorded for the wrong task would show.
    const ackAll = (jobs: any[]) =>
      Promise.all(
        jobs.map(async (job) => {
          const ack = await worker.post(`/v1/leases/${job.leaseId}/ack`, { result: { id: job.id, attempt: job.attempt } });
          if (ack.status === 200 && ack.body.state === 'succeeded') acked.set(job.id, (acked.get(job.id) ?? 0) + 1);
        }),
      );
    const consumer = async (w: number) => {
      while (running) {
        try {
          const res = await worker.post(`/v1/queues/${queue}/claim`, { worker: `w${w}`, max: 20, waitSeconds: 1 });
          await ackAll(res.body.jobs ?? []);
        } catch {
          await sleep(100);
        }
      }
    };

    const t0 = Date.now();
    const mark = (what: string) => console.log(`crash test: ${what} at ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const loops = [producer(0), producer(1), consumer(0), consumer(1), consumer(2)];
    await sleep(4000);
    const beforeKill = accepted.size;
    await system.kill();
    mark(`killed with ${acked.size} acked`);
    await sleep(500);
    system = await startSystem({ stateDir, port });
    mark('restarted');
    await sleep(3000);
    running = false;
    await Promise.all(loops);
    expect(beforeKill).toBeGreaterThan(100);

    // Work off whatever is left (leases held at the crash expire after 3 s and retry).
    const deadline = Date.now() + 90_000;
    while (Date.now() < deadline) {
      const res = await worker.post(`/v1/queues/${queue}/claim`, { worker: 'finisher', max: 100, waitSeconds: 1 });
      await ackAll(res.body.jobs);
      const stats = (await api.get(`/v1/queues/${queue}`)).body;
      if (process.env.DROVER_DEBUG) mark(`${acked.size} acked, ${JSON.stringify(stats)}`);
      if (res.body.jobs.length === 0 && stats.ready + stats.delayed + stats.running === 0) break;
    }
    mark('worked off');
    await sleep(1000); // the last D1 writes of the QueueObject
    const recorded = new Map<string, any>();
    let cursor: string | null = null;
    do {
      const page: any = await api.get(`/v1/tasks?queue=${queue}&limit=500${cursor ? `&cursor=${cursor}` : ''}`);
      for (const t of page.body.tasks) recorded.set(t.id, t);
      cursor = page.body.cursor;
    } while (cursor);
    const lost: string[] = [];
    const wrong: string[] = [];
    for (const id of accepted) {
      const t = recorded.get(id);
      if (t?.state !== 'succeeded') lost.push(`${id}:${t?.state}`);
      else if (t.result?.id !== id) wrong.push(id);
    }
    const twice = [...acked].filter(([, n]) => n > 1);
    console.log(`crash test: ${accepted.size} accepted (${beforeKill} before the kill), ${acked.size} acks seen, lost ${lost.length}, wrong ${wrong.length}, acked twice ${twice.length}`);
    expect(lost).toEqual([]);
    expect(wrong).toEqual([]);
    expect(twice).toEqual([]);
  });
});
