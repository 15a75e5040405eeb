// What the cron trigger's work costs once D1 holds many tasks: it runs once a minute, on the runtime's one thread.
//   node test/bench/cron.ts [n] [runs]
// Enqueues n tasks in batches of 1,000 on a fresh hub, waits until their queue's object holds them
// all and the D1 writer has confirmed them (version 1), then runs the trigger `runs` times with its
// time 10 minutes ahead, so every task is past the redelivery sweep's cut-off, and prints how long
// each took to answer (the route answers once the work is done) and the runtime's CPU over it.
import { createClient } from '../../src/sdk/client.ts';
import { Api, TOKENS } from '../e2e/system.ts';
import { startHub } from './drover.ts';
import { runtimeCpu } from './procs.ts';
import { median } from './stats.ts';

const [count = '100000', times = '5'] = process.argv.slice(2);
const n = Number(count);
const system = await startHub('memory');
try {
  const api = new Api(system.url, TOKENS.admin);
  const producer = createClient({ url: system.url, token: TOKENS.admin }).producer();
  for (let sent = 0; sent < n; sent += 1000) {
    const size = Math.min(1000, n - sent);
    await producer.enqueueMany('noop', Array.from({ length: size }, () => ({ args: [], options: { queue: 'cron-bench' } })));
    if ((sent + size) % 20_000 === 0) console.log(`  ${sent + size} enqueued`);
  }
  await producer.close();
  while ((await api.get('/v1/queues/cron-bench')).body.ready < n) await new Promise((r) => setTimeout(r, 200));
  // The D1 writer confirms the tasks behind the object, in batches: until it has, the trigger's
  // redelivery sweep finds the last of them and sends them again. Runs before the first that sends
  // none are not counted, nor is that one.
  const redelivered = () => system.logs().split('redelivered').length - 1;
  const trigger = async () => {
    const before = redelivered();
    const cpu0 = runtimeCpu(system.pgid);
    const t0 = performance.now();
    const res = await fetch(`${system.url}/cdn-cgi/handler/scheduled?time=${Date.now() + 600_000}`);
    const body = await res.text();
    const ms = performance.now() - t0;
    if (res.status !== 200) throw new Error(`the cron trigger answered ${res.status}: ${body}`);
    return { ms, cpuMs: (runtimeCpu(system.pgid) - cpu0) * 1000, resent: redelivered() > before };
  };
  for (let i = 0; (await trigger()).resent; i++) if (i === 20) throw new Error('the redelivery sweep still sends tasks after 20 runs');
  const ms: number[] = [];
  for (let i = 0; i < Number(times); i++) {
    const run = await trigger();
    ms.push(run.ms);
    console.log(`cron trigger run ${i + 1}: ${run.ms.toFixed(1)} ms, runtime CPU ${run.cpuMs.toFixed(0)} ms${run.resent ? ' (it sent tasks again)' : ''}`);
  }
  console.log(`cron trigger with ${n} tasks in D1: median ${median(ms).toFixed(1)} ms`);
} finally {
  await system.stop();
}
