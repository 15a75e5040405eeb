// Ids a producer chooses (a UUID, as Celery makes, or a ULID) and the headers a task carries to its
// workers, against npm start: kept, handed out with each job, found again, never made twice.
import { randomUUID } from 'node:crypto';
import { describe, expect, inject, it } from 'vitest';
import { Api, claimAll, uniqueQueue } from './system.ts';
import { waitFor } from './workers.ts';

const api = new Api(inject('hubUrl'));

describe('a task id the producer chose', () => {
  it('may name workflow members: a chord runs its members and body under the ids given', async () => {
    const queue = uniqueQueue('ids-chord');
    const [a, b, body] = [randomUUID(), randomUUID(), randomUUID()];
    const wf = await api.post('/v1/workflows', {
      chord: {
        header: [
          { id: a, task: 'ids.part', args: [1], queue, headers: { n: 1 } },
          { id: b, task: 'ids.part', args: [2], queue },
        ],
        body: { id: body, task: 'ids.sum', queue, headers: { n: 'body' } },
      },
    });
    expect(wf.status, wf.text).toBe(202);
    expect(wf.body.tasks).toEqual([a, b, body]);
    // A producer that sends a member again (Celery publishes a chord's header after telling its
    // backend) makes nothing new.
    expect((await api.post('/v1/tasks', { id: a, task: 'ids.part', args: [1], queue })).body).toMatchObject({ id: a, duplicate: true });

    const parts = await claimAll(api, queue, 2, { max: 10 });
    expect(parts.map((j: any) => j.id).sort()).toEqual([a, b].sort());
    expect(parts.find((j: any) => j.id === a)).toMatchObject({ headers: { n: 1 }, workflowId: wf.body.id });
    for (const j of parts) expect((await api.post(`/v1/leases/${j.leaseId}/ack`, { result: j.args[0] * 10 })).status).toBe(200);

    const [last] = await claimAll(api, queue, 1, { max: 10 });
    expect(last).toMatchObject({ id: body, task: 'ids.sum', args: [[10, 20]], headers: { n: 'body' }, workflowId: wf.body.id });
    await api.post(`/v1/leases/${last.leaseId}/ack`, { result: 30 });
    // The workflow hears of its body's end just after the body's lease does.
    const ended = await waitFor('the workflow to end', async () => {
      const state = (await api.get(`/v1/workflows/${wf.body.id}`)).body.state;
      return state !== 'running' && state;
    });
    expect(ended).toBe('succeeded');

    // Ids a task has already, or given twice: refused, and nothing is made.
    const reused = await api.post('/v1/workflows', { group: [{ id: randomUUID(), task: 'ids.part', queue }, { id: a, task: 'ids.part', queue }] });
    expect(reused.status).toBe(409);
    expect(reused.body.error.message).toContain(a);
    const twice = randomUUID();
    expect((await api.post('/v1/workflows', { group: [{ id: twice, task: 'ids.part', queue }, { id: twice, task: 'ids.part', queue }] })).status).toBe(400);
    expect((await api.get(`/v1/tasks/${twice}`)).status).toBe(404);
    expect((await api.get(`/v1/queues/${queue}`)).body).toMatchObject({ ready: 0, running: 0 });
  });

  it('is the task id everywhere: the answer, the record, the job, its lease, and the ack', async () => {
    const queue = uniqueQueue('ids');
    const id = randomUUID();
    const made = await api.post('/v1/tasks', { id, task: 'ids.add', args: [2, 3], queue, headers: { lang: 'py', retries: 0 } });
    expect(made.status, made.text).toBe(202);
    expect(made.body).toEqual({ id, state: 'queued' });

    const [job] = await claimAll(api, queue, 1, { max: 1 });
    expect(job).toMatchObject({ id, task: 'ids.add', args: [2, 3], headers: { lang: 'py', retries: 0 }, eta: null, workflowId: null });
    expect(job.leaseId).toContain(`.${id}.`);
    expect((await api.post(`/v1/leases/${job.leaseId}/heartbeat`, {})).status).toBe(200);
    expect((await api.post(`/v1/leases/${job.leaseId}/ack`, { result: 5 })).body).toEqual({ state: 'succeeded' });

    // Found by its id in either case, and the record keeps the headers.
    for (const asked of [id, id.toUpperCase()]) {
      const got = await api.get(`/v1/tasks/${asked}`);
      expect(got.status).toBe(200);
      expect(got.body).toMatchObject({ id, state: 'succeeded', result: 5, headers: { lang: 'py', retries: 0 } });
    }
  });

  it('names the task that has it already, and changes nothing, however often it is sent', async () => {
    const queue = uniqueQueue('ids-dup');
    const id = randomUUID();
    expect((await api.post('/v1/tasks', { id, task: 'ids.once', args: [1], queue })).status).toBe(202);
    const again = await api.post('/v1/tasks', { id, task: 'ids.other', args: [2], queue });
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ id, state: 'queued', duplicate: true });

    // A batch that repeats it, and repeats a new id within itself, makes one task of each.
    const fresh = randomUUID();
    const batch = await api.post('/v1/tasks/batch', {
      tasks: [
        { id, task: 'ids.once', queue },
        { id: fresh, task: 'ids.fresh', args: ['a'], queue },
        { id: fresh, task: 'ids.fresh', args: ['b'], queue },
      ],
    });
    expect(batch.status, batch.text).toBe(202);
    expect(batch.body.tasks).toEqual([
      { id, state: 'queued', duplicate: true },
      { id: fresh, state: 'queued' },
      { id: fresh, state: 'queued', duplicate: true },
    ]);

    const jobs = await claimAll(api, queue, 2, { max: 10 });
    expect(jobs.map((j: any) => [j.id, j.task, j.args]).sort()).toEqual(
      [
        [id, 'ids.once', [1]],
        [fresh, 'ids.fresh', ['a']],
      ].sort(),
    );
    expect((await api.post(`/v1/queues/${queue}/claim`, { worker: 'w', max: 10 })).body.jobs).toEqual([]);
    expect((await api.get(`/v1/queues/${queue}`)).body).toMatchObject({ ready: 0, running: 2 });
  });

  it('is made once when several enqueues of it race, even to different queues', async () => {
    const queues = [uniqueQueue('ids-race-a'), uniqueQueue('ids-race-b')];
    const id = randomUUID();
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => api.post('/v1/tasks', { id, task: 'ids.race', args: [i], queue: queues[i % 2] })));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 200, 202]);
    const made = answers.find((a) => a.status === 202)!;
    const record = (await api.get(`/v1/tasks/${id}`)).body;
    const jobs = [
      ...(await claimAll(api, queues[0], record.queue === queues[0] ? 1 : 0, { max: 10 })),
      ...(await claimAll(api, queues[1], record.queue === queues[1] ? 1 : 0, { max: 10 })),
    ];
    expect(jobs.map((j: any) => [j.id, j.queue, j.args])).toEqual([[id, record.queue, record.args]]);
    expect(made.body).toEqual({ id, state: 'queued' });
    for (const q of queues) expect((await api.post(`/v1/queues/${q}/claim`, { worker: 'w', max: 10 })).body.jobs).toEqual([]);
  });

  it('takes a ULID too, and refuses anything else with a 400 that makes nothing', async () => {
    const queue = uniqueQueue('ids-bad');
    const ulid = '01' + Array.from({ length: 24 }, () => '0123456789ABCDEFGHJKMNPQRSTVWXYZ'[Math.floor(Math.random() * 32)]).join('');
    const made = await api.post('/v1/tasks', { id: ulid.toLowerCase(), task: 'ids.ulid', queue });
    expect(made.status, made.text).toBe(202);
    expect(made.body.id).toBe(ulid.toUpperCase());

    for (const id of ['', 'task-1', '../x', randomUUID() + 'a', 'z'.repeat(26), 42]) {
      const res = await api.post('/v1/tasks', { id, task: 'ids.bad', queue });
      expect(res.status, JSON.stringify(id)).toBe(400);
      expect(res.body.error.message).toContain('id');
    }
    const headers = await api.post('/v1/tasks', { task: 'ids.bad', queue, headers: ['not', 'an', 'object'] });
    expect(headers.status).toBe(400);
    expect(headers.body.error.message).toContain('headers');

    const listed = (await api.get(`/v1/tasks?queue=${queue}`)).body.tasks;
    expect(listed.map((t: any) => t.task)).toEqual(['ids.ulid']);
  });

  it('lists tasks newest first by when they were made, whatever their ids look like', async () => {
    const queue = uniqueQueue('ids-list');
    // UUIDs sort in no time order: 'f…' made first, '0…' last.
    const ids = ['ffffffff', '77777777', '00000000'].map((head) => head + randomUUID().slice(8));
    for (const id of ids) {
      expect((await api.post('/v1/tasks', { id, task: 'ids.list', queue })).status).toBe(202);
      await waitForNextMillisecond();
    }
    const plain = (await api.post('/v1/tasks', { task: 'ids.list', queue })).body.id;

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await api.get(`/v1/tasks?queue=${queue}&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      expect(page.status, page.text).toBe(200);
      seen.push(...page.body.tasks.map((t: any) => t.id));
      cursor = page.body.cursor;
    } while (cursor);
    expect(seen).toEqual([plain, ...[...ids].reverse()]);
    expect((await api.get(`/v1/tasks?queue=${queue}&cursor=nope`)).status).toBe(400);
  });
});

/** Tasks made in separate milliseconds have a creation order a list can show. */
async function waitForNextMillisecond(): Promise<void> {
  const start = Date.now();
  while (Date.now() === start) await new Promise((r) => setTimeout(r, 1));
}
