// `npm run demo`: the scraping example. Sites in three regions, each page fetched only from its own region.
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { fetchPage } from '../examples/scrape/tasks.ts';
import { createClient } from '../src/sdk/index.ts';
import { freePort, startSystem } from '../test/e2e/system.ts';

const root = join(import.meta.dirname, '..');
const PAGES_PER_REGION = 12;
const REGIONS = ['cn', 'weur', 'apac'] as const;
const tokens = { admin: 'demo-admin', cn: 'demo-cn-worker' };
const say = (m: string) => process.stdout.write(`${m}\n`);

// Stand-ins for websites of three regions, on this machine. Each page says where it is,
// and the site notes which worker came for it.
const visits: { region: string; worker: string }[] = [];
const site = createServer((req, res) => {
  const region = req.url!.split('/')[1];
  visits.push({ region, worker: String(req.headers['x-drover-worker']) });
  setTimeout(() => {
    res.setHeader('content-type', 'text/html; charset=utf-8');
    res.end(`<html><title>${region.toUpperCase()} news ${req.url}</title><body>${'lorem ipsum '.repeat(200)}</body></html>`);
  }, 20 + Math.random() * 80);
});
const sitePort = await freePort();
await new Promise<void>((ok) => site.listen(sitePort, '127.0.0.1', ok));
say(`sites of ${REGIONS.join(', ')} at http://127.0.0.1:${sitePort}/<region>/...`);

say('starting drover (hub + regional consumers weur and apac) ...');
const system = await startSystem({ env: { DROVER_TOKENS: `${tokens.admin}:admin,${tokens.cn}:consume@cn` } });
say(`hub at ${system.url}, state in ${system.stateDir}`);

// China has no Cloudflare placement: a Node pull worker there does its pages.
const cnWorker = spawn(
  process.execPath,
  [join(root, 'bin/drover.ts'), 'worker', '--url', system.url, '--token', tokens.cn, '--queue', 'scrape', '--region', 'cn', '--name', 'cn-pull-1', '--concurrency', '4', join(root, 'examples/scrape/tasks.ts')],
  { stdio: ['ignore', 'inherit', 'inherit'] },
);

const drover = createClient({ url: system.url, token: tokens.admin });
const handles = [];
for (const region of REGIONS) {
  const calls = Array.from({ length: PAGES_PER_REGION }, (_, i) => ({
    args: [`http://127.0.0.1:${sitePort}/${region}/page-${i}`] as [string],
    options: { region },
  }));
  for (const h of await drover.enqueueMany(fetchPage, calls)) handles.push({ region, handle: h });
}
say(`enqueued ${handles.length} pages, ${PAGES_PER_REGION} per region`);

const results: { region: string; result: Awaited<ReturnType<typeof fetchPage.run>> }[] = [];
let shown = -1;
await Promise.all(
  handles.map(async ({ region, handle }) => {
    results.push({ region, result: await handle.wait({ timeoutSeconds: 120 }) });
    const width = 36;
    const filled = Math.round((results.length / handles.length) * width);
    if (filled !== shown) {
      shown = filled;
      process.stdout.write(`\r  [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${results.length}/${handles.length} pages`);
    }
  }),
);
process.stdout.write('\n\n');

say('region  pages  fetched by                crossed  median ms');
let crossed = 0;
for (const region of REGIONS) {
  const mine = results.filter((r) => r.region === region);
  const by = [...new Set(mine.map((r) => r.result.fetchedBy))].join(', ');
  const wrong = visits.filter((v) => v.region === region && !v.worker.startsWith(`${region}-`)).length;
  crossed += wrong;
  const ms = mine.map((r) => r.result.ms).sort((a, b) => a - b);
  say(`${region.padEnd(7)} ${String(mine.length).padStart(5)}  ${by.padEnd(25)} ${String(wrong).padStart(7)}  ${String(ms[Math.floor(ms.length / 2)]).padStart(9)}`);
}
say(`\n${crossed === 0 ? 'every page was fetched from its own region' : `${crossed} page(s) were fetched from the wrong region`}`);

cnWorker.kill('SIGTERM');
await new Promise((ok) => cnWorker.once('exit', ok));
await system.stop();
site.close();
process.exit(crossed === 0 ? 0 : 1);
