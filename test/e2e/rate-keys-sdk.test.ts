// Rate keys from the TypeScript side, against a stand-in hub that records what it is sent: a handler
// that throws RateLimitedError reports a rate-limited fail, a task's rateKey (a string or a function of
// its args) reaches the enqueue body with the call's own winning, and `drover keys` prints a queue's keys.
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createClient, defineTask, link, RateLimitedError, sig } from '../../src/sdk/index.ts';
import { PullWorker } from '../../src/sdk/pull.ts';
import { runDrover } from './drover-cli.ts';
import { fakeHub, fakeJob, type FakeHub } from './fake-hub.ts';
import { Api, TOKENS, uniqueQueue } from './system.ts';
import { waitFor } from './workers.ts';

const hubs: FakeHub[] = [];
afterEach(async () => {
  await Promise.all(hubs.splice(0).map((h) => h.close()));
});
async function hub() {
  const h = await fakeHub();
  hubs.push(h);
  return h;
}

const polite = defineTask('keys.polite', async ([wait]: [number | null]) => {
  throw wait === null ? new RateLimitedError('429 from api.example.com') : new RateLimitedError('429 from api.example.com', wait);
});
const plain = defineTask('keys.plain', async () => {
  throw new TypeError('broken on purpose');
});

describe('a handler that throws RateLimitedError', () => {
  it('fails its attempt as rate limited, with the Retry-After as delaySeconds; other errors do not say so', async () => {
    const h = await hub();
    const worker = new PullWorker({ url: h.url, token: 't', queues: ['a'], name: 'keys-1', tasks: [polite, plain], concurrency: 4, socket: false, waitSeconds: 0.1, log: () => {} });
    const running = worker.run();
    h.jobs('a', [fakeJob('a', 'j1', 'keys.polite', [2]), fakeJob('a', 'j2', 'keys.polite', [null]), fakeJob('a', 'j3', 'keys.plain'), fakeJob('a', 'j4', 'keys.polite', [Number.NaN])]);
    await waitFor('four fails', async () => h.fails.length === 4, 10_000);
    const byLease = Object.fromEntries(h.fails.map((f) => [f.leaseId, f.body]));
    expect(byLease['lease-j1']).toMatchObject({ error: { type: 'RateLimited', message: '429 from api.example.com' }, rateLimited: true, delaySeconds: 2 });
    // No Retry-After (or one that did not parse): the hub's default of 1 s, so no delaySeconds.
    expect(byLease['lease-j2']).toMatchObject({ rateLimited: true });
    expect(byLease['lease-j2']).not.toHaveProperty('delaySeconds');
    expect(byLease['lease-j4']).toMatchObject({ rateLimited: true });
    expect(byLease['lease-j4']).not.toHaveProperty('delaySeconds');
    expect(byLease['lease-j3']).toMatchObject({ error: { type: 'TypeError' }, retry: true });
    expect(byLease['lease-j3']).not.toHaveProperty('rateLimited');
    await worker.stop();
    await running;
  });
});

describe('a task\'s rateKey', () => {
  const byUrl = defineTask('keys.page', { queue: 'scrape', rateKey: (url) => new URL(url).host }, async ([url]: [string]) => url);
  const fixed = defineTask('keys.api', { queue: 'scrape', rateKey: 'api.example.com' }, async () => null);
  const maybe = defineTask('keys.maybe', { rateKey: (site: string | null) => site }, async ([site]: [string | null]) => site);

  it('is sent in the enqueue body: a function of the args, a string, or the call\'s own, which wins', async () => {
    const h = await hub();
    const drover = createClient({ url: h.url, token: 't' });
    await drover.enqueue(byUrl, ['https://Shop.example.com:8443/a?b=1']);
    await drover.enqueue(byUrl, ['https://shop.example.com/'], { rateKey: 'mine' });
    await drover.enqueue(fixed, []);
    await drover.enqueue(fixed, [], { rateKey: null });
    await drover.enqueue(maybe, [null]);
    await drover.enqueue(maybe, ['a.example.com']);
    await drover.enqueue('keys.by-name', [], { rateKey: 'named' });
    await drover.enqueueMany(byUrl, [{ args: ['https://one.example.com/x'] }, { args: ['https://two.example.com/y'], options: { rateKey: 'other' } }]);
    const keys = h.enqueued.map((b) => ('rateKey' in b ? b.rateKey : 'absent'));
    // URL's host is lowercased and keeps a port that is not the scheme's default.
    expect(keys).toEqual(['shop.example.com:8443', 'mine', 'api.example.com', null, 'absent', 'a.example.com', 'named', 'one.example.com', 'other']);
    expect(h.enqueued[0]).toEqual({ queue: 'scrape', task: 'keys.page', args: ['https://Shop.example.com:8443/a?b=1'], rateKey: 'shop.example.com:8443' });
  });

  it('is in a workflow step\'s body too, from the args the step was given', () => {
    expect(sig(byUrl, ['https://x.example.com/']).body).toMatchObject({ task: 'keys.page', rateKey: 'x.example.com' });
    expect(link(maybe, [])).toMatchObject({ body: { task: 'keys.maybe' } });
    expect(link(maybe, []).body).not.toHaveProperty('rateKey');
  });

  it('is refused where the task is defined when it is neither a string nor a function', () => {
    expect(() => defineTask('keys.bad', { rateKey: 42 as never }, async () => null)).toThrow(/rateKey must be a string or a function/);
  });
});

describe('drover keys', () => {
  const answer = {
    keys: [
      { key: 'api.example.com', rate: '2/s', concurrency: null, currentRate: 1, pausedUntil: Date.now() + 30_000, running: 0, waiting: 12, rateLimited: 3 },
      { key: 'shop.example.com', rate: '10/s', concurrency: 4, currentRate: 10, pausedUntil: null, running: 4, waiting: 250, rateLimited: 0 },
      { key: 'unlimited.example.org', rate: null, concurrency: null, currentRate: null, pausedUntil: null, running: 1, waiting: 0, rateLimited: 0 },
    ],
    nextCursor: null,
  };

  it('prints a queue\'s keys as a table: rate now/configured, concurrency, running, waiting, paused for how long', async () => {
    const h = await hub();
    const asked: string[] = [];
    h.keys('scrape', (q) => {
      asked.push(q.toString());
      // Paused for 30 s from when the hub answers (a busy machine starts the command late).
      return { ...answer, keys: answer.keys.map((k) => (k.pausedUntil ? { ...k, pausedUntil: Date.now() + 30_000 } : k)) };
    });
    const run = await runDrover(h.url, ['keys', 'scrape']);
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^KEY\s+RATE NOW\/SET\s+CONCURRENCY\s+RUNNING\s+WAITING\s+RATE LIMITED\s+PAUSED$/);
    expect(lines[1]).toMatch(/^api\.example\.com\s+1\/s of 2\/s\s+-\s+0\s+12\s+3\s+for (29|30)s$/);
    expect(lines[2]).toMatch(/^shop\.example\.com\s+10\/s of 10\/s\s+4\s+4\s+250\s+0$/);
    expect(lines[3]).toMatch(/^unlimited\.example\.org\s+-\s+-\s+1\s+0\s+0$/);
    expect(asked).toEqual(['limit=1000']);
  });

  it('prints the hub\'s answer as it is with --json, follows nextCursor, and says when a queue has no keys', async () => {
    const h = await hub();
    h.keys('paged', (q) => (q.get('cursor') ? { keys: [{ ...answer.keys[1] }], nextCursor: null } : { keys: [answer.keys[0]], nextCursor: 'api.example.com' }));
    const run = await runDrover(h.url, ['keys', 'paged', '--json']);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ keys: [answer.keys[0], answer.keys[1]] });
    h.keys('quiet', () => ({ keys: [], nextCursor: null }));
    const quiet = await runDrover(h.url, ['keys', 'quiet']);
    expect(quiet.code).toBe(0);
    expect(quiet.stdout.trim()).toBe('no keys in queue quiet: none has tasks waiting or running, a pause, or a lowered rate');
  });

  it('says a hub without the keys route has none to show (exit 1), and wants a queue name (exit 2)', async () => {
    const h = await hub();
    const old = await runDrover(h.url, ['keys', 'scrape']);
    expect(old.code).toBe(1);
    expect(old.stderr).toMatch(/^drover keys: 404 not_found: /);
    const none = await runDrover(h.url, ['keys']);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/usage: drover keys/);
  });
});

describe('against the real hub', () => {
  it('keeps the enqueued rateKey on the task, and a RateLimitedError puts it back to wait without using an attempt', async () => {
    const url = inject('hubUrl');
    const api = new Api(url);
    const queue = uniqueQueue('keys');
    const site = defineTask('keys.site', { queue, maxRetries: 0, rateKey: (host: string) => host }, async ([host]: [string]) => {
      throw new RateLimitedError(`429 from ${host}`, 30);
    });
    const drover = createClient({ url, token: TOKENS.admin });
    const handle = await drover.enqueue(site, ['api.example.com']);
    expect((await api.get(`/v1/tasks/${handle.id}`)).body.rateKey).toBe('api.example.com');
    const worker = new PullWorker({ url, token: TOKENS.consume, queues: [queue], name: `${queue}-w`, tasks: [site], concurrency: 1, socket: false, waitSeconds: 0.1, log: () => {} });
    const running = worker.run();
    await waitFor('the rate-limited fail', async () => worker.counts.failed === 1, 15_000);
    await worker.stop();
    await running;
    const task = (await api.get(`/v1/tasks/${handle.id}`)).body;
    // maxRetries 0: a counted attempt would have made it a dead letter.
    expect(task).toMatchObject({ state: 'delayed', attempts: 0, rateKey: 'api.example.com' });
  });
});
