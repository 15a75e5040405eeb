// Backlog cost (drover only): claim+ack over HTTP with 1k, 100k, 1M tasks waiting in one queue,
// and the runtime's resident memory as the queue fills.
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
  /** Peak resident memory of the runtime's processes while filling to this size, bytes. */
  peakRssBytes: number;
}

function bar(done: number, total: number): string {
  const width = 30;
  const filled = Math.round((done / total) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done.toLocaleString('en')}/${total.toLocaleString('en')}`;
}

/** Tops the queue up to `target` waiting tasks, 1,000 a request with 4 in flight, showing progress. */
async function fillTo(api: Api, queue: string, have: number, target: number, rss: () => number): Promise<{ perSecond: number; peak: number }> {
  const started = performance.now();
  let sent = have;
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
  return { perSecond: (target - have) / ((performance.now() - started) / 1000), peak };
}

async function claimAck(api: Api, queue: string, samples: number): Promise<number[]> {
  const worker = api.as(TOKENS.consume);
  const times: number[] = [];
  for (let i = 0; i < samples + 20; i++) {
    // Keep the backlog at its level: one task in (untimed) for each one out.
    await api.post('/v1/tasks', { task: 'noop', queue });
    const started = performance.now();
    const { body } = await worker.post(`/v1/queues/${queue}/claim`, { worker: 'bench', max: 1 });
    const ack = await worker.post(`/v1/leases/${body.jobs[0].leaseId}/ack`, { result: null });
    if (ack.status !== 200) throw new Error(`ack failed: ${ack.text}`);
    if (i >= 20) times.push(performance.now() - started); // the first 20 warm up
  }
  return times.sort((a, b) => a - b);
}

/** Grows one queue through `sizes` (ascending) and measures claim+ack at each. */
export async function backlog(api: Api, sizes: number[], samples: number, rss: () => number, log: (m: string) => void): Promise<BacklogPoint[]> {
  const queue = `backlog-${Date.now().toString(36)}`;
  const out: BacklogPoint[] = [];
  let have = 0;
  for (const n of sizes) {
    const fill = await fillTo(api, queue, have, n, rss);
    have = n;
    const t = await claimAck(api, queue, samples);
    const point = {
      waiting: n, claimAckMs: median(t), p90Ms: t[Math.floor(t.length * 0.9)], samples, fillPerSecond: fill.perSecond, peakRssBytes: fill.peak,
    };
    out.push(point);
    log(`    ${n.toLocaleString('en')} waiting: claim+ack ${point.claimAckMs.toFixed(2)} ms median (filled at ${Math.round(fill.perSecond)}/s, runtime RSS peak ${(fill.peak / 2 ** 20).toFixed(0)} MiB)`);
  }
  return out;
}
