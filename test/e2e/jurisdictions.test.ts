// Jurisdictions (docs/regions.md): weur is bound to the EU (wrangler.toml), so a weur task's args and
// result rest only in the EU's objects and D1. Read straight from npm start's local store files.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, expect, inject, it } from 'vitest';
import { Api, claimAll, uniqueQueue } from './system.ts';
import { waitFor } from './workers.ts';

const api = new Api(inject('hubUrl'));
const v3 = join(inject('stateDir'), 'v3');

/** Every local store file (D1 databases, Durable Objects, caches), a store's -wal and -shm with it. */
function storeFiles(): { store: string; path: string }[] {
  const out: { store: string; path: string }[] = [];
  const walk = (dir: string) => {
    // The type comes with the listing: a -shm or -journal file SQLite removes between a listing and a stat is no error.
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else out.push({ store: path.replace(/-(wal|shm|journal)$/, ''), path });
    }
  };
  walk(v3);
  return out;
}

/** A file's bytes, or null if SQLite removed it since it was listed. */
function bytesOf(path: string): Buffer | null {
  try {
    return readFileSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** The stores (a store: one SQLite database with its WAL) whose bytes hold `marker`. */
function storesHolding(marker: string): string[] {
  const needle = Buffer.from(marker);
  const found = new Set<string>();
  for (const f of storeFiles()) {
    if (bytesOf(f.path)?.includes(needle)) found.add(f.store);
  }
  return [...found].sort();
}

/** A Durable Object's name as it keeps it (the QueueObject's meta table), or null for another store. */
function objectName(store: string): string | null {
  if (!store.includes(`${join('do', 'drover-QueueObject')}`) || store.endsWith('metadata.sqlite')) return null;
  const db = new DatabaseSync(store, { readOnly: true });
  try {
    return (db.prepare(`SELECT value FROM meta WHERE key = 'object'`).get() as { value: string } | undefined)?.value ?? null;
  } catch {
    return null;
  } finally {
    db.close();
  }
}

const d1 = (store: string) => store.includes(join('d1', 'miniflare-D1DatabaseObject'));

describe('a region bound to a jurisdiction', () => {
  it("keeps a weur task's args, result and error in the EU's object and D1 alone, and reads still find it", async () => {
    const queue = uniqueQueue('juris');
    const tag = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
    const m = { euArgs: `EU-ARGS-${tag}`, euResult: `EU-RESULT-${tag}`, euError: `EU-ERROR-${tag}`, plainArgs: `PLAIN-ARGS-${tag}`, plainResult: `PLAIN-RESULT-${tag}` };

    // One with an idempotency key (recorded in D1 first), one in a batch beside an untagged task.
    const eu = await api.post('/v1/tasks', { task: 'juris.echo', queue, region: 'weur', args: [m.euArgs], idempotencyKey: `juris-${tag}` });
    expect(eu.status).toBe(202);
    const batch = await api.post('/v1/tasks/batch', {
      tasks: [
        { task: 'juris.echo', queue, args: [m.plainArgs] },
        { task: 'juris.fail', queue, region: 'weur', args: [m.euArgs], maxRetries: 0 },
      ],
    });
    expect(batch.status).toBe(202);
    const [plainId, deadId] = batch.body.tasks.map((t: any) => t.id);
    // The key's repeat finds the first task, in the EU's D1.
    const again = await api.post('/v1/tasks', { task: 'juris.echo', queue, region: 'weur', args: [m.euArgs], idempotencyKey: `juris-${tag}` });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ id: eu.body.id, duplicate: true });

    // A weur worker's claims see its lane (in the EU) and the untagged lane (outside) alike.
    const jobs = await claimAll(api, queue, 3, { region: 'weur' });
    expect(jobs.map((j) => j.id).sort()).toEqual([eu.body.id, plainId, deadId].sort());
    for (const j of jobs) {
      const out =
        j.id === deadId
          ? await api.post(`/v1/leases/${j.leaseId}/fail`, { error: { type: 'Boom', message: m.euError }, retry: false })
          : await api.post(`/v1/leases/${j.leaseId}/ack`, { result: { r: j.id === plainId ? m.plainResult : m.euResult } });
      expect(out.status).toBe(200);
    }
    // The lease of a weur task names its object in the EU.
    expect(jobs.find((j) => j.id === eu.body.id).leaseId.startsWith(`eu:${queue}`)).toBe(true);
    expect(jobs.find((j) => j.id === plainId).leaseId.startsWith(`${queue}.`)).toBe(true);

    // Reads find both: the task, the list, the dead letters.
    expect((await api.get(`/v1/tasks/${eu.body.id}`)).body).toMatchObject({ state: 'succeeded', region: 'weur', args: [m.euArgs], result: { r: m.euResult } });
    expect((await api.get(`/v1/tasks/${plainId}`)).body).toMatchObject({ state: 'succeeded', region: null, result: { r: m.plainResult } });
    const listed = await waitFor('the list to show all three ended', async () => {
      const page = (await api.get(`/v1/tasks?queue=${queue}&limit=2`)).body;
      const next = page.cursor ? (await api.get(`/v1/tasks?queue=${queue}&limit=2&cursor=${page.cursor}`)).body : { tasks: [], cursor: null };
      const all = [...page.tasks, ...next.tasks];
      return all.length === 3 && next.cursor === null && all.every((t: any) => t.state !== 'running') ? all : null;
    });
    expect(listed.map((t: any) => t.id).sort()).toEqual([eu.body.id, plainId, deadId].sort());
    const dead = (await api.get(`/v1/queues/${queue}/dead`)).body.tasks;
    expect(dead.map((d: any) => d.id)).toEqual([deadId]);
    expect(dead[0].error.message).toBe(m.euError);

    // On disk: once D1 has the ends, each marker is in one D1 database and one queue object.
    const stores = await waitFor('both D1 databases to hold their tasks', async () => {
      const s = Object.fromEntries(Object.entries(m).map(([k, v]) => [k, storesHolding(v)]));
      return Object.values(s).every((list) => list.filter(d1).length === 1) ? s : null;
    });
    const euD1 = stores.euArgs.find(d1)!;
    const plainD1 = stores.plainArgs.find(d1)!;
    expect(euD1).not.toBe(plainD1);
    for (const key of ['euArgs', 'euResult', 'euError'] as const) {
      const objects = stores[key].filter((s) => !d1(s));
      expect(stores[key].filter(d1), key).toEqual([euD1]);
      expect(objects.map(objectName), key).toEqual([`eu:${queue}`]);
    }
    for (const key of ['plainArgs', 'plainResult'] as const) {
      expect(stores[key].filter(d1), key).toEqual([plainD1]);
      expect(stores[key].filter((s) => !d1(s)).map(objectName), key).toEqual([queue]);
    }

    // The history counts the ends of both stores together.
    const history = await waitFor('the history to count all three ends', async () => {
      const minutes = (await api.get(`/v1/stats?queue=${queue}`)).body.minutes as { succeeded: number; failed: number }[];
      const sum = minutes.reduce((a, x) => ({ succeeded: a.succeeded + x.succeeded, failed: a.failed + x.failed }), { succeeded: 0, failed: 0 });
      return sum.succeeded === 2 && sum.failed === 1 ? sum : null;
    });
    expect(history).toEqual({ succeeded: 2, failed: 1 });
  });

  it('wakes a waiting weur claim for work on either side', async () => {
    const queue = uniqueQueue('juris');
    for (const region of [null, 'weur']) {
      const started = Date.now();
      const calls = (await api.get(`/v1/queues/${queue}`)).body.claimCalls as number;
      const waiting = api.post(`/v1/queues/${queue}/claim`, { worker: 'e2e-weur', region: 'weur', max: 1, waitSeconds: 20 });
      // The claim has reached the queue (and found nothing) before the work comes.
      await waitFor('the claim to wait', async () => ((await api.get(`/v1/queues/${queue}`)).body.claimCalls > calls ? true : null));
      const made = await api.post('/v1/tasks', { task: 'juris.echo', queue, region, args: [] });
      const got = await waiting;
      expect(got.status).toBe(200);
      expect(got.body.jobs.map((j: any) => j.id)).toEqual([made.body.id]);
      // Woken by the work, not by the end of its 20 s wait.
      expect(Date.now() - started).toBeLessThan(15_000);
    }
  });

  it('pauses and purges the waiting tasks on both sides, and counts both in the stats', async () => {
    const queue = uniqueQueue('juris');
    const made = await api.post('/v1/tasks/batch', { tasks: [{ task: 'juris.echo', queue, region: 'weur' }, { task: 'juris.echo', queue }] });
    expect(made.status).toBe(202);
    const stats = (await api.get(`/v1/queues/${queue}`)).body;
    expect(stats.ready).toBe(2);
    expect(stats.regions.weur.ready).toBe(1);
    expect((await api.post(`/v1/queues/${queue}/pause`)).status).toBe(200);
    expect((await api.post(`/v1/queues/${queue}/claim`, { worker: 'e2e-weur', region: 'weur', max: 2, waitSeconds: 0 })).body.jobs).toEqual([]);
    expect((await api.post(`/v1/queues/${queue}/purge`)).body).toEqual({ name: queue, purged: 2, more: false });
    for (const t of made.body.tasks) expect((await api.get(`/v1/tasks/${t.id}`)).body.state).toBe('revoked');
  });

  it('refuses a workflow step or a schedule of a bound region, and changes nothing', async () => {
    const queue = uniqueQueue('juris');
    const wf = await api.post('/v1/workflows', { chain: [{ task: 'juris.a', queue, region: 'weur' }] });
    expect(wf.status).toBe(400);
    expect(wf.body.error.message).toContain('eu jurisdiction');
    const id = `juris-${Date.now().toString(36)}`;
    const sched = await api.post('/v1/schedules', { id, cron: '* * * * *', task: 'juris.a', queue, region: 'weur' });
    expect(sched.status).toBe(400);
    expect((await api.get(`/v1/schedules/${id}`)).status).toBe(404);
    expect((await api.get(`/v1/tasks?queue=${queue}`)).body.tasks).toEqual([]);
  });
});
