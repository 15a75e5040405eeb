// Backlog cost (drover only): claim+ack over HTTP with 1k, 100k, 1M tasks waiting in a queue
// (one queue per size, measured in turn), and the runtime's resident memory as they fill.
import type { Api } from '../e2e/system.ts';
import { TOKENS } from '../e2e/system.ts';
import { median } from './stats.ts';

export interface BacklogPoint {
  waiting: number;
  /** Median claim+ack, ms, over `samples` sequential pairs. */
  claimAckMs: number;
  p90Ms: number;
  samples: number;
  fillPerSecond: number;
  /** Peak resident memory of the runtime's processes while filling this size's queue (the smaller ones already full), bytes. */
  peakRssBytes: number;
}

function bar(done: number, total: number): string {
  const width = 30;
  const filled = Math.round((done / total) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done.toLocaleString('en')}/${total.toLocaleString('en')}`;
}

/** Fills a new queue with `target` waiting tasks, 1,000 a request with 4 in flight, showing progress. */
async function fill(api: Api, queue: string, target: number, rss: () => number): Promise<{ perSecond: number; peak: number }> {
  const started = performance.now();
  let sent = 0;
  let peak = rss();
  const next = async (): Promise<void> => {
    while (sent < target) {
      const size = Math.min(1000, target - sent);
      sent += size;
      const res = await api.post('/v1/tasks/batch', { tasks: Array.from({ length: size }, () => ({ task: 'noop', queue })) });
      if (res.status !== 202) throw new Error(`enqueue failed: ${res.status} ${res.text.slice(0, 200)}`);
      peak = Math.max(peak, rss());
      if (process.stdout.isTTY) process.stdout.write(`\r    filling: ${bar(Math.min(sent, target), target)}`);
    }
  };
  await Promise.all(Array.from({ length: 4 }, next));
  for (;;) {
    const stats = (await api.get(`/v1/queues/${queue}`)).body;
    peak = Math.max(peak, rss());
    if (stats.ready >= target) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  if (process.stdout.isTTY) process.stdout.write('\r\x1b[K');
  return { perSecond: target / ((performance.now() - started) / 1000), peak };
}

/** One claim+ack over HTTP, timed, after one task in (untimed) to keep the queue at its level. */
async function claimAck(api: Api, worker: Api, queue: string): Promise<number> {
  await api.post('/v1/tasks', { task: 'noop', queue });
  const started = performance.now();
  const { body } = await worker.post(`/v1/queues/${queue}/claim`, { worker: 'bench', max: 1 });
  const ack = await worker.post(`/v1/leases/${body.jobs[0].leaseId}/ack`, { result: null });
  if (ack.status !== 200) throw new Error(`ack failed: ${ack.text}`);
  return performance.now() - started;
}

/**
 * Fills one queue per size (ascending; each its own QueueObject) and measures claim+ack on
 * each. The pairs are interleaved, one per queue in turn, so that the machine's speed drifting
 * over the minutes of a run falls on every size alike instead of on whichever size ran then.
 */
export async function backlog(api: Api, sizes: number[], samples: number, rss: () => number, log: (m: string) => void): Promise<BacklogPoint[]> {
  const stamp = Date.now().toString(36);
  const filled: { n: number; queue: string; perSecond: number; peak: number }[] = [];
  for (const n of sizes) {
    const queue = `backlog-${n}-${stamp}`;
    const f = await fill(api, queue, n, rss);
    filled.push({ n, queue, ...f });
    log(`    ${n.toLocaleString('en')} waiting in ${queue} (filled at ${Math.round(f.perSecond)}/s, runtime RSS peak ${(f.peak / 2 ** 20).toFixed(0)} MiB)`);
  }
  const worker = api.as(TOKENS.consume);
  const times = filled.map(() => [] as number[]);
  const warmup = 20;
  for (let i = 0; i < samples + warmup; i++) {
    // A different queue goes first each round, so none is always measured right after another.
    for (let k = 0; k < filled.length; k++) {
      const j = (i + k) % filled.length;
      const ms = await claimAck(api, worker, filled[j].queue);
      if (i >= warmup) times[j].push(ms);
    }
    if (process.stdout.isTTY) process.stdout.write(`\r    claim+ack: ${bar(i + 1, samples + warmup)}`);
  }
  if (process.stdout.isTTY) process.stdout.write('\r\x1b[K');
  return filled.map((f, j) => {
    const t = times[j].sort((a, b) => a - b);
    const point = { waiting: f.n, claimAckMs: median(t), p90Ms: t[Math.floor(t.length * 0.9)], samples, fillPerSecond: f.perSecond, peakRssBytes: f.peak };
    log(`    ${f.n.toLocaleString('en')} waiting: claim+ack ${point.claimAckMs.toFixed(2)} ms median, p90 ${point.p90Ms.toFixed(2)} ms`);
    return point;
  });
}
