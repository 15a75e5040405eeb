// `npm run demo`: the scraping example. Sites in three regions, each page fetched only from its own
// region, each site's requests held to its limit across every region, a site that answers 429 when
// pushed, and the EU's pages kept in the EU's stores.
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { fetchPage } from '../examples/scrape/tasks.ts';
import { createClient } from '../src/sdk/index.ts';
import { freePort, startSystem } from '../test/e2e/system.ts';

const root = join(import.meta.dirname, '..');
const tokens = { admin: 'demo-admin', cn: 'demo-cn-worker' };
const say = (m: string) => process.stdout.write(`${m}\n`);

/**
 * Stand-ins for websites, on this machine, each its own host (a port of its own) and so its own
 * rate key. `limit` is the per-site limit the queue is given; `tolerates`, for the touchy site,
 * is how many requests in one second it takes before it answers 429 with Retry-After: 1.
 * `regions`: where its pages must be fetched from (a shop fetched from China and from Asia-Pacific
 * sees both regions' requests, and its limit holds for both together).
 */
const SITES = [
  { name: 'news.cn', regions: ['cn'], pages: 40, limit: 8 },
  { name: 'news.eu', regions: ['weur'], pages: 40, limit: 8 },
  { name: 'shop.asia', regions: ['cn', 'apac'], pages: 60, limit: 12, tolerates: 6 },
] as const;
type Site = (typeof SITES)[number];

// Each site notes every request: when, from which worker of which region, and what it answered.
const seen = new Map<string, { at: number; region: string; worker: string; status: number }[]>();
const servers: Server[] = [];
const hostOf = new Map<string, string>();
for (const s of SITES) {
  const log: { at: number; region: string; worker: string; status: number }[] = [];
  seen.set(s.name, log);
  const server = createServer((req, res) => {
    const at = Date.now();
    const region = String(req.headers['x-drover-region']);
    const tolerates = 'tolerates' in s ? s.tolerates : Infinity;
    const lastSecond = log.filter((r) => r.status === 200 && r.at > at - 1000).length;
    const status = lastSecond >= tolerates ? 429 : 200;
    log.push({ at, region, worker: String(req.headers['x-drover-worker']), status });
    if (status === 429) {
      res.writeHead(429, { 'retry-after': '1' }).end('slow down');
      return;
    }
    setTimeout(() => {
      res.setHeader('content-type', 'text/html; charset=utf-8');
      res.end(`<html><title>${s.name} ${req.url}</title><body>${'lorem ipsum '.repeat(200)}</body></html>`);
    }, 20 + Math.random() * 60);
  });
  const port = await freePort();
  await new Promise<void>((ok) => server.listen(port, '127.0.0.1', ok));
  servers.push(server);
  hostOf.set(s.name, `127.0.0.1:${port}`);
  say(`site ${s.name.padEnd(10)} at http://${hostOf.get(s.name)}/  fetched from ${s.regions.join(' and ')}, limit ${s.limit}/s${'tolerates' in s ? `, answers 429 past ${s.tolerates} a second` : ''}`);
}

say('starting drover (hub + regional consumers weur and apac; weur bound to the EU jurisdiction) ...');
const system = await startSystem({ env: { DROVER_TOKENS: `${tokens.admin}:admin,${tokens.cn}:consume@cn` } });
say(`hub at ${system.url}, state in ${system.stateDir}`);

// Each site's limit, per host: the hub holds it across every region and worker.
const drover = createClient({ url: system.url, token: tokens.admin });
const config = await fetch(`${system.url}/v1/queues/scrape/config`, {
  method: 'PUT',
  headers: { authorization: `Bearer ${tokens.admin}`, 'content-type': 'application/json' },
  body: JSON.stringify({ keyLimits: SITES.map((s) => ({ match: hostOf.get(s.name)!, rate: `${s.limit}/s` })) }),
});
if (!config.ok) throw new Error(`setting the site limits failed: ${config.status} ${await config.text()}`);

// China has no Cloudflare placement: a Node pull worker there does its pages.
const cnWorker = spawn(
  process.execPath,
  [join(root, 'bin/drover.ts'), 'worker', '--url', system.url, '--token', tokens.cn, '--queue', 'scrape', '--region', 'cn', '--name', 'cn-pull-1', '--concurrency', '4', '--loglevel', 'warning', '--no-status', join(root, 'examples/scrape/tasks.ts')],
  { stdio: ['ignore', 'inherit', 'inherit'] },
);

const handles: { site: Site; region: string; handle: Awaited<ReturnType<typeof drover.enqueueMany<[string], unknown>>>[number] }[] = [];
for (const s of SITES) {
  const calls = Array.from({ length: s.pages }, (_, i) => ({
    args: [`http://${hostOf.get(s.name)}/page-${i}`] as [string],
    options: { region: s.regions[i % s.regions.length] },
  }));
  const made = await drover.enqueueMany(fetchPage, calls);
  made.forEach((handle, i) => handles.push({ site: s, region: calls[i].options.region, handle }));
}
say(`enqueued ${handles.length} pages: ${SITES.map((s) => `${s.pages} of ${s.name}`).join(', ')}\n`);

// While it runs: each site's requests (answered 429 or not) in each second, drawn as a line per site.
const started = Date.now();
const BARS = ' ▁▂▃▄▅▆▇█';
const draw = () => {
  const lines = SITES.map((s) => {
    const log = seen.get(s.name)!;
    const seconds = Math.max(1, Math.ceil((Date.now() - started) / 1000));
    const counts = Array.from({ length: seconds }, (_, k) => log.filter((r) => r.at >= started + k * 1000 && r.at < started + (k + 1) * 1000).length);
    const spark = counts.slice(-40).map((n) => BARS[Math.min(BARS.length - 1, Math.round((n / s.limit) * (BARS.length - 1)))]).join('');
    return `  ${s.name.padEnd(10)} ${String(counts.at(-1) ?? 0).padStart(3)}/s of ${String(s.limit).padStart(2)}/s ${spark}`;
  });
  return lines.join('\n');
};
const tty = process.stdout.isTTY;
const timer = tty
  ? setInterval(() => process.stdout.write(`\x1b[${SITES.length}A\r${draw()}\n`), 500)
  : null;
if (tty) process.stdout.write(`${draw()}\n`);

type Page = Awaited<ReturnType<typeof fetchPage.run>>;
const results: { site: Site; region: string; id: string; result: Page }[] = [];
await Promise.all(
  handles.map(async ({ site, region, handle }) => {
    results.push({ site, region, id: handle.id, result: (await handle.wait({ timeoutSeconds: 180 })) as Page });
  }),
);
if (timer) clearInterval(timer);
// The whole run's chart stays on screen (and is the one printed where there is no terminal).
process.stdout.write(`${tty ? `\x1b[${SITES.length}A\r` : ''}${draw()}\n\n`);

// Per site: its mean rate of requests while it was fetched against its limit, its busiest second, the 429s it
// answered, and its rate now as the hub has it (lowered by each 429, climbing back since).
const keys = (await (await fetch(`${system.url}/v1/queues/scrape/keys`, { headers: { authorization: `Bearer ${tokens.admin}` } })).json()) as {
  keys: { key: string; currentRate: number | null }[];
};
say('site        limit  mean rate  busiest second  429s  rate now  fetched from');
let over = 0;
for (const s of SITES) {
  // Every request the site saw counts, the ones it answered 429 too.
  const log = seen.get(s.name)!;
  const first = log[0]?.at ?? started;
  const last = log.at(-1)?.at ?? started;
  let busiest = 0;
  for (const r of log) busiest = Math.max(busiest, log.filter((o) => o.at >= r.at && o.at < r.at + 1000).length);
  const mean = log.length > 1 ? (log.length - 1) / ((last - first) / 1000) : log.length;
  if (mean > s.limit * 1.1) over++;
  const regions = [...new Set(log.map((r) => r.region))].join(', ');
  const refused = log.filter((r) => r.status === 429).length;
  const now = keys.keys.find((k) => k.key === hostOf.get(s.name))?.currentRate;
  const rateNow = now === undefined || now === null ? `${s.limit}/s` : `${Number(now.toFixed(1))}/s`;
  say(`${s.name.padEnd(10)} ${`${s.limit}/s`.padStart(6)}  ${`${mean.toFixed(1)}/s`.padStart(9)}  ${String(busiest).padStart(14)}  ${String(refused).padStart(4)}  ${rateNow.padStart(8)}  ${regions}`);
}
say('(a site may be sent a quarter second of its rate at once, so its busiest second can pass its limit by that much)');

// Where each page's task and result rest, as the hub says.
say('\nregion  pages  fetched by                crossed  stored in');
let crossed = 0;
for (const region of ['cn', 'weur', 'apac']) {
  const mine = results.filter((r) => r.region === region);
  const by = [...new Set(mine.map((r) => r.result.fetchedBy))].join(', ');
  const wrong = [...seen.values()].flat().filter((v) => v.region === region && !v.worker.startsWith(`${region}-`)).length;
  crossed += wrong;
  const stores = new Set<string>();
  for (const r of mine) {
    const res = await fetch(`${system.url}/v1/tasks/${r.id}`, { headers: { authorization: `Bearer ${tokens.admin}` } });
    const task = (await res.json()) as { jurisdiction?: string | null };
    stores.add(task.jurisdiction ? `the ${task.jurisdiction.toUpperCase()} jurisdiction's stores` : 'the hub\'s stores');
  }
  say(`${region.padEnd(7)} ${String(mine.length).padStart(5)}  ${by.padEnd(25)} ${String(wrong).padStart(7)}  ${[...stores].join(', ')}`);
}
say(`\n${crossed === 0 ? 'every page was fetched from its own region' : `${crossed} page(s) were fetched from the wrong region`}`);
say(over === 0 ? 'every site was fetched within its limit (mean rate)' : `${over} site(s) were fetched faster than their limit`);

cnWorker.kill('SIGTERM');
await new Promise((ok) => cnWorker.once('exit', ok));
await system.stop();
for (const s of servers) s.close();
process.exit(crossed === 0 && over === 0 ? 0 : 1);
