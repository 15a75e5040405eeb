// What the runtime alone costs a POST, with nothing of drover in it: the floor under the HTTP singles figure.
//   node test/bench/floor.ts [n] [runs]
// A bare Worker on the same workerd as npm start (wrangler's Miniflare, the Worker's own socket, no
// entry Worker) answers n POSTs of a task's JSON from 50 clients over kept-alive connections, in
// four ways: it only parses the body and answers 202 (`answer`); it also calls a Durable Object
// that does nothing (`call`); the object also commits the task in a transaction (`commit`); and
// `answer` again to Node's fetch instead of node:http (`answer, fetch`). Prints each run's rate and
// the CPU a request of the runtime (every workerd process) and of this client.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { freePort } from '../e2e/system.ts';
import { runtimeCpu } from './procs.ts';
import { poster, rateOf } from './posts.ts';

const [count = '10000', times = '3'] = process.argv.slice(2);
const n = Number(count);
const IN_FLIGHT = 50;
const root = join(import.meta.dirname, '..', '..');
const fromWrangler = createRequire(join(root, 'node_modules', 'wrangler', 'package.json'));
const { Miniflare, convertV4MiniflareOptions } = fromWrangler('miniflare') as typeof import('miniflare');

const script = `
import { DurableObject } from 'cloudflare:workers';
export class Tasks extends DurableObject {
  async call(task) { return { added: 0 }; }
  async commit(task) {
    this.ctx.storage.transactionSync(() => {
      this.ctx.storage.sql.exec('CREATE TABLE IF NOT EXISTS tasks (body TEXT)');
      this.ctx.storage.sql.exec('INSERT INTO tasks VALUES (?)', JSON.stringify(task));
    });
    return { added: 1 };
  }
}
export default {
  async fetch(request, env) {
    const task = JSON.parse(new TextDecoder().decode(await request.arrayBuffer()));
    const way = new URL(request.url).pathname.slice(1);
    if (way !== 'answer') await env.TASKS.get(env.TASKS.idFromName('q'))[way](task);
    return new Response(JSON.stringify({ id: 'x', state: 'queued' }), { status: 202, headers: { 'content-type': 'application/json' } });
  },
};`;

/** This process's group: the runtime Miniflare starts is in it. */
const pgid = Number(readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ')[2]);
const port = await freePort();
const mf = new Miniflare(
  convertV4MiniflareOptions({
    host: '127.0.0.1',
    port: await freePort(),
    cf: false,
    workers: [{ name: 'floor', modules: true, script, compatibilityDate: '2026-10-01', durableObjects: { TASKS: { className: 'Tasks', useSQLite: true } }, unsafeDirectSockets: [{ host: '127.0.0.1', port }] }],
  } as Parameters<typeof convertV4MiniflareOptions>[0]),
);
await mf.ready;

const body = JSON.stringify({ task: 'noop', args: [], queue: 'bench' });

function fetchClient(way: string): { post: () => Promise<void>; close: () => void } {
  const headers = { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) };
  const post = async () => {
    const res = await fetch(`http://127.0.0.1:${port}/${way}`, { method: 'POST', headers, body });
    await res.arrayBuffer();
    if (res.status !== 202) throw new Error(`answered ${res.status}`);
  };
  return { post, close: () => {} };
}

const httpClient = (way: string) => poster(new URL(`http://127.0.0.1:${port}/${way}`), body, {}, IN_FLIGHT);

try {
  for (const [label, way, client] of [['answer', 'answer', httpClient], ['call', 'call', httpClient], ['commit', 'commit', httpClient], ['answer, fetch', 'answer', fetchClient]] as const) {
    const { post, close } = client(way);
    await Promise.all(Array.from({ length: IN_FLIGHT }, post)); // connections open, the object made
    for (let run = 0; run < Number(times); run++) {
      const cpu0 = runtimeCpu(pgid);
      const mine0 = process.cpuUsage();
      const rate = await rateOf(n, IN_FLIGHT, post);
      const mine = process.cpuUsage(mine0);
      const runtime = ((runtimeCpu(pgid) - cpu0) * 1e6) / n;
      console.log(`${label.padEnd(14)} ${Math.round(rate)}/s  runtime CPU ${runtime.toFixed(0)} us/request  client CPU ${((mine.user + mine.system) / n).toFixed(0)} us/request`);
    }
    close();
  }
} finally {
  await mf.dispose();
}
