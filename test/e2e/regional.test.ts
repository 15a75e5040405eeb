// Regional consumers on Cloudflare (examples/scrape/workers/weur and apac, under npm start): woken by the hub, never polling.
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Api, TOKENS, sleep, uniqueQueue } from './system.ts';
import { waitFor } from './workers.ts';

const api = new Api(inject('hubUrl'));
/**
 * The runtime's own entry (npm start's "local triggers" port) passes a request to the Worker that
 * MF-Route-Override names: here that is what a regional consumer's workers.dev address would be.
 */
function regional(service: string, method: string, path: string, token?: string, body?: string) {
  const headers: Record<string, string> = { 'mf-route-override': service, ...(token ? { authorization: `Bearer ${token}` } : {}) };
  return fetch(inject('triggersUrl') + path, { method, headers, body });
}
/** Which worker fetched each page, as the site saw it. */
const visits: { path: string; worker: string; region: string }[] = [];
let site: Server;
let siteUrl: string;

beforeAll(async () => {
  site = createServer((req, res) => {
    visits.push({ path: req.url!, worker: String(req.headers['x-drover-worker']), region: String(req.headers['x-drover-region']) });
    const region = req.url!.split('/')[1];
    res.setHeader('content-type', 'text/html');
    res.end(`<html><title>A page in ${region}</title><body>${'x'.repeat(100)}</body></html>`);
  });
  await new Promise<void>((ok) => site.listen(0, '127.0.0.1', ok));
  siteUrl = `http://127.0.0.1:${(site.address() as { port: number }).port}`;
});
afterAll(() => new Promise<void>((ok) => site.close(() => ok())));

describe('regional consumers', () => {
  it('fetch each region\'s pages only from that region, woken without polling', async () => {
    const queue = uniqueQueue('scrape');
    const pages = ['weur', 'apac'].flatMap((region) => Array.from({ length: 10 }, (_, i) => ({ region, url: `${siteUrl}/${region}/${queue}/page-${i}` })));
    const made = await api.post('/v1/tasks/batch', {
      tasks: [
        ...pages.map((p) => ({ task: 'scrape.page', args: [p.url], queue, region: p.region })),
        // No consumer serves cn here: this one must stay queued.
        { task: 'scrape.page', args: [`${siteUrl}/cn/${queue}/page-0`], queue, region: 'cn' },
      ],
    });
    expect(made.status).toBe(202);
    const ids: string[] = made.body.tasks.map((t: any) => t.id);
    const results = await waitFor('the weur and apac pages', async () => {
      const all = await Promise.all(ids.slice(0, 20).map((id) => api.get(`/v1/tasks/${id}`).then((r) => r.body)));
      return all.every((t) => t.state === 'succeeded') ? all : null;
    });
    results.forEach((t, i) => {
      expect(t.worker).toBe(`${pages[i].region}-regional`);
      expect(t.result).toMatchObject({ url: pages[i].url, status: 200, title: `A page in ${pages[i].region}`, fetchedBy: `${pages[i].region}-regional`, region: pages[i].region });
    });
    const mine = visits.filter((v) => v.path.includes(queue));
    expect(mine).toHaveLength(20);
    for (const v of mine) expect(v.worker).toBe(`${v.path.split('/')[1]}-regional`);
    expect((await api.get(`/v1/tasks/${ids[20]}`)).body).toMatchObject({ state: 'queued', attempts: 0 });

    const stats = (await api.get(`/v1/queues/${queue}`)).body;
    expect(stats.regionWakes).toBeGreaterThanOrEqual(2);
    // Idle now: a consumer that polled would show up here.
    await sleep(5000);
    const later = (await api.get(`/v1/queues/${queue}`)).body;
    expect(later.claimCalls).toBe(stats.claimCalls);
    expect(later).toMatchObject({ ready: 1, running: 0 });
  });

  it('answer nobody without a token: /wake and /stats are 401 in the error shape, a wrong region 403', async () => {
    const wake = JSON.stringify({ queue: uniqueQueue('scrape'), region: 'weur' });
    for (const service of ['drover-weur', 'drover-apac']) {
      for (const [method, path, body] of [['POST', '/wake', wake], ['GET', '/stats', undefined]] as const) {
        for (const token of [undefined, 'not-a-token']) {
          const res = await regional(service, method, path, token, body);
          expect(res.status, `${service} ${method} ${path} ${token}`).toBe(401);
          expect(await res.json()).toEqual({ error: { code: 'unauthorized', message: expect.any(String) } });
        }
      }
    }
    // A token for weur is a token for weur only; the enqueue-only token is no consumer's.
    expect((await regional('drover-apac', 'GET', '/stats', TOKENS.weur)).status).toBe(403);
    expect((await regional('drover-weur', 'GET', '/stats', TOKENS.enqueue)).status).toBe(403);
    const stats = await regional('drover-weur', 'GET', '/stats', TOKENS.weur);
    expect(stats.status).toBe(200);
    expect(await stats.json()).toMatchObject({ region: 'weur', worker: 'weur-regional' });
  });
});

describe('regional consumers and rate keys', () => {
  it('come back for a key whose concurrency slot another worker held when they last looked', async () => {
    const queue = uniqueQueue('scrape');
    const key = `held-${queue}`;
    expect((await api.request('PUT', `/v1/queues/${queue}/config`, { keyLimits: [{ match: key, concurrency: 1 }] })).status).toBe(200);
    // A pull worker of a region no consumer serves takes the key's one slot.
    const first = await api.post('/v1/tasks', { task: 'scrape.page', args: [`${siteUrl}/keys-held/${queue}/0`], queue, region: 'keys-held', rateKey: key });
    expect(first.status).toBe(202);
    const held = await waitFor('the pull worker\'s claim', async () => {
      const jobs = (await api.as(TOKENS.consume).post(`/v1/queues/${queue}/claim`, { worker: 'holder', region: 'keys-held', max: 1 })).body.jobs;
      return jobs.length ? jobs[0] : null;
    });
    // apac's consumer is woken for the key's next tasks, finds the key full, and goes back to sleep.
    const calls = (await api.get(`/v1/queues/${queue}`)).body.claimCalls as number;
    const made = await api.post('/v1/tasks/batch', {
      tasks: [1, 2].map((i) => ({ task: 'scrape.page', args: [`${siteUrl}/apac/${queue}/page-${i}`], queue, region: 'apac', rateKey: key })),
    });
    expect(made.status).toBe(202);
    await waitFor('apac\'s consumer to look', async () => ((await api.get(`/v1/queues/${queue}`)).body.claimCalls > calls ? true : null));
    for (const t of made.body.tasks) expect((await api.get(`/v1/tasks/${t.id}`)).body.state).toBe('queued');
    // The slot frees: the consumer is told, and runs both, one at a time.
    expect((await api.as(TOKENS.consume).post(`/v1/leases/${held.leaseId}/ack`, { result: null })).status).toBe(200);
    for (const t of made.body.tasks) {
      const done = await waitFor(`task ${t.id}`, async () => {
        const r = (await api.get(`/v1/tasks/${t.id}`)).body;
        return r.state === 'succeeded' ? r : null;
      });
      expect(done.worker).toBe('apac-regional');
    }
  }, 60_000);
});
