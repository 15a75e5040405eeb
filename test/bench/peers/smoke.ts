// Runs every scenario of the BullMQ and Celery peers once and prints the figures.
//   node test/bench/peers/smoke.ts [bullmq] [celery] [--full]
// Small sizes by default; --full uses the bench's sizes (20,000 tasks, latency 100/s for 10 s).
import { findMissing } from '../redis.ts';
import type { BenchSystem } from '../types.ts';
import { bullmq } from './bullmq.ts';
import { celery } from './celery.ts';

const args = process.argv.slice(2);
const full = args.includes('--full');
const names = args.filter((a) => !a.startsWith('--'));
const peers = [bullmq(), celery()].filter((p) => names.length === 0 || names.includes(p.name));

const size = full
  ? { batch: [20_000, 1000], single: [5000, 50], drain: 20_000, endToEnd: 20_000, latency: [100, 10] }
  : { batch: [2000, 1000], single: [500, 50], drain: 2000, endToEnd: 2000, latency: [100, 2] };

const missing = findMissing();
if (missing.length > 0) console.log(`missing Debian packages: ${missing.join(', ')}`);

const rate = (x: number) => `${Math.round(x).toLocaleString('en')} tasks/s`;

async function run(peer: BenchSystem): Promise<void> {
  console.log(`\n${peer.name}: ${peer.setup}`);
  await peer.start();
  try {
    console.log(`  enqueueBatch(${size.batch})  ${rate(await peer.enqueueBatch(size.batch[0], size.batch[1]))}`);
    console.log(`  enqueueSingle(${size.single}) ${rate(await peer.enqueueSingle(size.single[0], size.single[1]))}`);
    console.log(`  drain(${size.drain})          ${rate(await peer.drain(size.drain))}`);
    console.log(`  endToEnd(${size.endToEnd})       ${rate(await peer.endToEnd(size.endToEnd))}`);
    const l = await peer.latency(size.latency[0], size.latency[1]);
    console.log(`  latency(${size.latency})      p50 ${l.p50.toFixed(2)} ms, p95 ${l.p95.toFixed(2)} ms, p99 ${l.p99.toFixed(2)} ms (${l.samples} samples)`);
  } finally {
    await peer.stop();
  }
}

for (const peer of peers) await run(peer);
