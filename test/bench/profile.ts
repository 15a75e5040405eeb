// Profiles the hub (workerd's DevTools inspector, on DROVER_INSPECTOR_PORT) while one bench scenario runs.
//   node test/bench/profile.ts drain [n]     (also: batch, single, http, e2e, latency; a drain from its workers' start)
// Writes test-results/hub.cpuprofile (open it in Chrome DevTools) and prints the hottest functions: by
// self time, and by inclusive time in µs a task (what a call and everything under it cost).
// BENCH_PROFILE_TARGET=d1:db profiles local D1's isolate instead (any id the inspector lists).
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { freePort } from '../e2e/system.ts';
import { drover } from './drover.ts';
import { runScenario } from './scenarios.ts';
import { inclusive, nameOf, type Profile } from './cpuprofile.ts';

const [scenario = 'drain', count = '20000'] = process.argv.slice(2);
const n = Number(count);
/** The isolate profiled: the hub's Worker and its objects, unless another of the inspector's targets is named. */
const HUB = 'core:user:drover';
const target = process.env.BENCH_PROFILE_TARGET ?? HUB;
const isolate = target === HUB ? "the hub's isolate" : `the isolate ${target}`;
const port = await freePort();
process.env.DROVER_INSPECTOR_PORT = String(port);
const system = drover();
await system.start();

async function inspector(): Promise<(method: string, params?: object) => Promise<any>> {
  const targets = (await (await fetch(`http://127.0.0.1:${port}/json`)).json()) as { id: string; webSocketDebuggerUrl: string }[];
  // One target per Worker of the runtime (Miniflare's own among them, local D1's d1:db); the hub's is named after it.
  const found = targets.find((t) => t.id === target);
  if (!found) throw new Error(`the inspector lists no ${target}: ${targets.map((t) => t.id).join(', ')}`);
  const ws: any = new WebSocket(found.webSocketDebuggerUrl);
  await new Promise((ok, fail) => ((ws.onopen = ok), (ws.onerror = fail)));
  let id = 0;
  const waiting = new Map<number, (v: any) => void>();
  ws.onmessage = (e: { data: unknown }) => {
    const msg = JSON.parse(String(e.data));
    if (msg.id && waiting.has(msg.id)) waiting.get(msg.id)!(msg.result ?? msg.error);
  };
  return (method, params = {}) => new Promise((ok) => {
    waiting.set(++id, ok);
    ws.send(JSON.stringify({ id, method, params }));
  });
}

try {
  const call = await inspector();
  await call('Profiler.enable');
  await call('Profiler.setSamplingInterval', { interval: 200 });
  // A drain is profiled from its workers' start to its last task, as the bench times it: its
  // enqueue (the batch scenario) is left out. The runtime's CPU over the same window, from /proc,
  // sets the hub's isolate beside every other part of the runtime (local D1's above all).
  let stopped: Promise<Profile> | null = null;
  let runtimeUs = 0;
  const start = async () => {
    runtimeUs = system.runtimeCpu();
    await call('Profiler.start');
  };
  const stop = () => (stopped ??= call('Profiler.stop').then((r) => {
    runtimeUs = (system.runtimeCpu() - runtimeUs) * 1e6;
    return r.profile as Profile;
  }));
  if (scenario === 'drain') Object.assign(system.drainWindow, { start, end: async () => void (await stop()) });
  else await start();
  const t0 = performance.now();
  const out = await runScenario(system, scenario, n);
  console.log(scenario, out, `${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const profile = await stop();
  const dir = resolve(import.meta.dirname, '..', '..', 'test-results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(resolve(dir, 'hub.cpuprofile'), JSON.stringify(profile));
  const nodes = profile.nodes;
  const total = nodes.reduce((s, x) => s + (x.hitCount ?? 0), 0);
  const self = new Map<string, number>();
  for (const x of nodes) {
    const key = nameOf(x.callFrame);
    self.set(key, (self.get(key) ?? 0) + (x.hitCount ?? 0));
  }
  console.log(`hottest functions by self time (${total} samples):`);
  for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log(`${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}`);
  const { ran, byFunction } = inclusive(profile);
  const wall = profile.endTime - profile.startTime;
  console.log(`\n${isolate} ran ${(ran / 1000).toFixed(0)} ms of ${(wall / 1000).toFixed(0)} ms (${(ran / n).toFixed(1)} µs a task);`);
  console.log(`the whole runtime used ${(runtimeUs / n).toFixed(1)} µs of CPU a task (/proc, every workerd process; 10 ms ticks);`);
  console.log('by inclusive time, µs a task (a function and everything it called):');
  for (const [k, v] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, 40)) console.log(`${(v / n).toFixed(1).padStart(8)}  ${k}`);
} finally {
  await system.stop();
}
