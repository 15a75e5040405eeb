// Claim cost under per-key limits (drover only): claim+ack over HTTP in a queue with no rate keys,
// in one whose 1,000 keys all have budget, and in one whose 1,000 keys are 900 throttled.
import type { Api } from '../e2e/system.ts';
import { TOKENS } from '../e2e/system.ts';
import { median } from './stats.ts';

export interface KeysPoint {
  /** What the queue holds: 'no keys', '1,000 keys', '1,000 keys, 900 throttled'. */
  label: string;
  keys: number;
  throttled: number;
  /** Median claim+ack, ms, over `samples` sequential pairs. */
  claimAckMs: number;
  p90Ms: number;
  samples: number;
}

const KEYS = 1000;
const THROTTLED = 900;
/** Tasks waiting behind each throttled key while the others are claimed. */
const WAITING_PER_THROTTLED = 10;
/** Tasks waiting on each key with budget, so that every key of the queue has ready tasks throughout. */
const WAITING_PER_OPEN = 5;

async function ok(res: Promise<{ status: number; text: string; body: any }>, what: string, status = 202) {
  const r = await res;
  if (r.status !== status) throw new Error(`${what} failed: ${r.status} ${r.text.slice(0, 200)}`);
  return r.body;
}

async function enqueue(api: Api, queue: string, keys: (i: number) => string | null, n: number): Promise<void> {
  for (let sent = 0; sent < n; sent += 1000) {
    const size = Math.min(1000, n - sent);
    const tasks = Array.from({ length: size }, (_, i) => {
      const key = keys(sent + i);
      return key === null ? { task: 'noop', queue } : { task: 'noop', queue, rateKey: key };
    });
    await ok(api.post('/v1/tasks/batch', { tasks }), 'enqueue');
  }
}

/** Claims and acks until `n` tasks are done (the throttled keys' one token each, spent before the timing). */
async function spend(worker: Api, queue: string, n: number): Promise<void> {
  let done = 0;
  while (done < n) {
    const { jobs } = await ok(worker.post(`/v1/queues/${queue}/claim`, { worker: 'bench', max: 100 }), 'claim', 200);
    if (jobs.length === 0) throw new Error(`${queue}: ${done} of ${n} tokens spent, then nothing to claim`);
    await ok(worker.post('/v1/leases/ack', { acks: jobs.map((j: { leaseId: string }) => ({ leaseId: j.leaseId, result: null })) }), 'ack', 200);
    done += jobs.length;
  }
}

/**
 * Three queues, measured in turn, one claim+ack of each per round: no keys; 1,000 keys with
 * budget, 5 tasks waiting on each; 1,000 keys of which 900 have spent their only token of the
 * hour and hold 9 tasks each, the other 100 with 5 each. Each round puts one task in for each
 * it takes out, so the keys keep their tasks. A claim that visited the throttled keys, or every
 * key, would cost more with them than without.
 */
export async function keysCost(api: Api, samples: number, log: (m: string) => void): Promise<KeysPoint[]> {
  const stamp = Date.now().toString(36);
  const worker = api.as(TOKENS.consume);
  const queues = [
    { label: 'no keys', keys: 0, throttled: 0, queue: `keys-none-${stamp}` },
    { label: `${KEYS.toLocaleString('en')} keys`, keys: KEYS, throttled: 0, queue: `keys-open-${stamp}` },
    { label: `${KEYS.toLocaleString('en')} keys, ${THROTTLED} throttled`, keys: KEYS, throttled: THROTTLED, queue: `keys-held-${stamp}` },
  ];
  const held = queues[2];
  // Keys slow-0..899 may start one task an hour: the first of each goes now, the other nine wait.
  await ok(api.request('PUT', `/v1/queues/${held.queue}/config`, { keyLimits: [{ match: 'slow-*', rate: '1/h' }, { match: 'fast-*', rate: '100000/s' }] }), 'config', 200);
  await enqueue(api, held.queue, (i) => `slow-${i % THROTTLED}`, THROTTLED * WAITING_PER_THROTTLED);
  await spend(worker, held.queue, THROTTLED);
  const stats = await ok(api.get(`/v1/queues/${held.queue}`), 'stats', 200);
  if (stats.ready !== THROTTLED * (WAITING_PER_THROTTLED - 1)) throw new Error(`${held.queue}: ${stats.ready} ready, expected ${THROTTLED * (WAITING_PER_THROTTLED - 1)} behind throttled keys`);
  await ok(api.request('PUT', `/v1/queues/${queues[1].queue}/config`, { keyLimits: [{ match: 'fast-*', rate: '100000/s' }] }), 'config', 200);
  const fast = KEYS - THROTTLED;
  await enqueue(api, held.queue, (i) => `fast-${i % fast}`, fast * WAITING_PER_OPEN);
  await enqueue(api, queues[1].queue, (i) => `fast-${i % KEYS}`, KEYS * WAITING_PER_OPEN);
  await enqueue(api, queues[0].queue, () => null, KEYS * WAITING_PER_OPEN);
  log(`    ${THROTTLED} keys throttled in ${held.queue} with ${stats.ready.toLocaleString('en')} tasks waiting, ${fast} open with ${fast * WAITING_PER_OPEN}; ${KEYS} open keys in ${queues[1].queue} with ${KEYS * WAITING_PER_OPEN}`);

  const times = queues.map(() => [] as number[]);
  const warmup = 20;
  let next = 0;
  for (let i = 0; i < samples + warmup; i++) {
    for (let k = 0; k < queues.length; k++) {
      const j = (i + k) % queues.length;
      const q = queues[j];
      // One task in (untimed), of the next open key in turn, then one claim+ack timed.
      const key = q.keys === 0 ? null : q.throttled ? `fast-${next % fast}` : `fast-${next % KEYS}`;
      await enqueue(api, q.queue, () => key, 1);
      const started = performance.now();
      const { jobs } = await ok(worker.post(`/v1/queues/${q.queue}/claim`, { worker: 'bench', max: 1 }), 'claim', 200);
      if (jobs.length !== 1) throw new Error(`${q.queue}: claim found ${jobs.length} jobs`);
      await ok(worker.post(`/v1/leases/${jobs[0].leaseId}/ack`, { result: null }), 'ack', 200);
      if (i >= warmup) times[j].push(performance.now() - started);
    }
    next++;
  }
  return queues.map((q, j) => {
    const t = times[j].sort((a, b) => a - b);
    const point: KeysPoint = { label: q.label, keys: q.keys, throttled: q.throttled, claimAckMs: median(t), p90Ms: t[Math.floor(t.length * 0.9)], samples };
    log(`    ${q.label.padEnd(28)} claim+ack ${point.claimAckMs.toFixed(2)} ms median, p90 ${point.p90Ms.toFixed(2)} ms`);
    return point;
  });
}
