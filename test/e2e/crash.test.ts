// kill -9 of the whole runtime under mixed load, three times in a row: a checker then finds nothing lost,
// nothing with two results, nothing stuck; the schedule made one task per slot and the chord's body ran once.
// Once with the queue in one object, once spread over three (DROVER_SHARDS).
import { afterEach, describe, expect, it } from 'vitest';
import { Api, TOKENS, sleep, startSystem, type System } from './system.ts';

let system: System | undefined;
afterEach(async () => {
  await system?.stop();
  system = undefined;
});

describe.each<{ what: string; env: Record<string, string> }>([
  { what: 'one object', env: {} },
  { what: 'three shards', env: { DROVER_SHARDS: JSON.stringify({ crash: 3 }) } },
])('crashes of the whole runtime, the queue in $what', ({ env }) => {
  it('lose no accepted task and record one result each', async () => {
    system = await startSystem({ env });
    const { port, stateDir } = system;
    const api = new Api(system.url);
    const worker = api.as(TOKENS.consume);
    const queue = 'crash';
    const accepted = new Set<string>();
    const acked = new Map<string, number>();
    let running = true;
    const t0 = Date.now();
    const mark = (what: string) => console.log(`crash test: ${what} at ${((Date.now() - t0) / 1000).toFixed(1)} s`);

    // A schedule firing every second and a chord of 30 run through the crashes too.
    await api.post('/v1/schedules', { id: 'crash-tick', every: 1, task: 'work', queue, timeout: 3, retryDelay: 0.1 });
    const chord = await api.post('/v1/workflows', {
      chord: {
        header: Array.from({ length: 30 }, (_, i) => ({ task: 'work', args: [i], queue, timeout: 3, retryDelay: 0.1 })),
        body: { task: 'work', queue, timeout: 3, retryDelay: 0.1 },
      },
    });
    expect(chord.status).toBe(202);
    for (const id of chord.body.tasks.slice(0, 30)) accepted.add(id);

    // Every job is acked with its own id, so a result recorded for the wrong task would show.
    const ackAll = (jobs: any[]) =>
      Promise.all(
        jobs.map(async (job) => {
          const ack = await worker.post(`/v1/leases/${job.leaseId}/ack`, { result: { id: job.id, attempt: job.attempt, args: job.args } });
          if (ack.status === 200 && ack.body.state === 'succeeded') acked.set(job.id, (acked.get(job.id) ?? 0) + 1);
        }),
      );
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

    const loops = [producer(0), producer(1), consumer(0), consumer(1), consumer(2)];
    for (let crash = 1; crash <= 3; crash++) {
      await sleep(3000);
      await system.kill();
      mark(`kill -9 #${crash} with ${accepted.size} accepted, ${acked.size} acked`);
      await sleep(300);
      system = await startSystem({ stateDir, port, env });
      mark('restarted');
    }
    await sleep(2000);
    running = false;
    await Promise.all(loops);
    await api.request('DELETE', '/v1/schedules/crash-tick');

    // Work off the rest (leases held at a crash expire after 3 s and retry).
    const deadline = Date.now() + 90_000;
    while (Date.now() < deadline) {
      const res = await worker.post(`/v1/queues/${queue}/claim`, { worker: 'finisher', max: 100, waitSeconds: 1 });
      await ackAll(res.body.jobs);
      const stats = (await api.get(`/v1/queues/${queue}`)).body;
      if (res.body.jobs.length === 0 && stats.ready + stats.delayed + stats.running === 0) break;
    }
    mark('worked off');
    // D1's records, once the QueueObjects' last writes reached it (or 30 s passed: then the checks below say what is missing).
    const readRecorded = async () => {
      const rows = new Map<string, any>();
      let cursor: string | null = null;
      do {
        const page: any = await api.get(`/v1/tasks?queue=${queue}&limit=500${cursor ? `&cursor=${cursor}` : ''}`);
        for (const t of page.body.tasks) rows.set(t.id, t);
        cursor = page.body.cursor;
      } while (cursor);
      return rows;
    };
    const ended = (t: any) => ['succeeded', 'failed', 'revoked', 'expired'].includes(t.state);
    let recorded = await readRecorded();
    for (const until = Date.now() + 30_000; Date.now() < until; recorded = await readRecorded()) {
      if ([...accepted].every((id) => recorded.get(id)?.state === 'succeeded') && [...recorded.values()].every(ended)) break;
      await sleep(250);
    }
    const lost = [...accepted].filter((id) => recorded.get(id)?.state !== 'succeeded');
    const wrong = [...accepted].filter((id) => recorded.get(id)?.state === 'succeeded' && recorded.get(id).result?.id !== id);
    const twice = [...acked].filter(([, n]) => n > 1).map(([id]) => id);
    const stuck = [...recorded.values()].filter((t) => !ended(t)).map((t) => t.id);
    const slots = [...recorded.values()].map((t) => t.idempotencyKey).filter((k) => k?.startsWith('schedule:crash-tick:'));
    const workflow = (await api.get(`/v1/workflows/${chord.body.id}`)).body;
    const body = workflow.tasks.filter((t: any) => t.step === 1);
    console.log(
      `crash test checker: ${accepted.size} accepted, ${recorded.size} recorded, ${slots.length} schedule slots; ` +
        `lost ${lost.length}, wrong ${wrong.length}, two results ${twice.length}, stuck ${stuck.length}`,
    );
    expect({ lost, wrong, twice, stuck }).toEqual({ lost: [], wrong: [], twice: [], stuck: [] });
    expect(slots.length).toBeGreaterThan(3);
    expect(new Set(slots).size).toBe(slots.length);
    expect(workflow.state).toBe('succeeded');
    expect(body).toHaveLength(1);
    expect(recorded.get(body[0].id).args[0].map((r: any) => r.args[0])).toEqual(Array.from({ length: 30 }, (_, i) => i));
  });
});
