// Backlog cost: claim+ack with 100 vs 100,000 (or --sizes) tasks waiting, on a fresh `npm start`.
import { Api, startSystem, TOKENS } from '../e2e/system.ts';

const args = process.argv.slice(2);
const flag = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const sizes = flag('sizes', '100,100000').split(',').map(Number);
const samples = Number(flag('samples', '300'));

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

function bar(done: number, total: number): string {
  const width = 30;
  const filled = Math.round((done / total) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`;
}

async function fill(api: Api, queue: string, n: number): Promise<void> {
  const started = performance.now();
  const batch = 1000;
  const inFlight = 4;
  let sent = 0;
  const next = async (): Promise<void> => {
    while (sent < n) {
      const size = Math.min(batch, n - sent);
      sent += size;
      const res = await api.post('/v1/tasks/batch', { tasks: Array.from({ length: size }, () => ({ task: 'noop', queue })) });
      if (res.status !== 202) throw new Error(`enqueue failed: ${res.status} ${res.text}`);
      process.stdout.write(`\r  filling ${queue}: ${bar(Math.min(sent, n), n)}`);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, next));
  for (;;) {
    const stats = (await api.get(`/v1/queues/${queue}`)).body;
    if (stats.ready >= n) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(`  (${seconds.toFixed(1)} s, ${Math.round(n / seconds)} tasks/s enqueued and delivered)\n`);
}

async function measure(api: Api, queue: string): Promise<number[]> {
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

const system = await startSystem();
try {
  const api = new Api(system.url);
  const rows: { waiting: number; p50: number; p90: number; min: number; max: number }[] = [];
  for (const n of sizes) {
    const queue = `backlog-${n}`;
    await fill(api, queue, n);
    const t = await measure(api, queue);
    rows.push({ waiting: n, p50: quantile(t, 0.5), p90: quantile(t, 0.9), min: t[0], max: t[t.length - 1] });
  }
  console.log(`\nclaim+ack over HTTP, ${samples} sequential samples each (ms):`);
  console.log('waiting'.padStart(10), 'median'.padStart(8), 'p90'.padStart(8), 'min'.padStart(8), 'max'.padStart(8), '  vs first');
  for (const r of rows) {
    console.log(
      String(r.waiting).padStart(10),
      r.p50.toFixed(2).padStart(8),
      r.p90.toFixed(2).padStart(8),
      r.min.toFixed(2).padStart(8),
      r.max.toFixed(2).padStart(8),
      `  ${(r.p50 / rows[0].p50).toFixed(2)}x`,
    );
  }
} finally {
  await system.stop();
}
