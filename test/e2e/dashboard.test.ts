// The dashboard in a real browser (Debian's chromium via playwright-core): every page at phone and desktop width
// with real data behind it (no console error, no policy violation, nothing off the side, no serious axe-core
// finding, a screenshot for the report), the keyboard, the themes, live counts, replay, and no one may frame it.
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from './browser.ts';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Api, TOKENS, claimAll, uniqueQueue } from './system.ts';

const url = inject('hubUrl');
const api = new Api(url);
const SHOTS = resolve(import.meta.dirname, '../../test-results/dashboard');
const axeSource: string = createRequire(import.meta.url)('axe-core').source;
/** Ids a stream gives in its first 5 s after a quiet spell resume to a reset (docs/protocol.md; QUIET_MS in src/events/EventsObject.ts). */
const QUIET_MS = 5_000;
let browser: Browser;

beforeAll(async () => {
  browser = await launchChromium();
  mkdirSync(SHOTS, { recursive: true });
});
afterAll(() => browser?.close());

interface Watched {
  page: Page;
  errors: string[];
  urls: string[];
  violations: () => Promise<string[]>;
}

/** A page that records script errors, console errors, requested URLs and every content-policy violation. */
async function watched(width: number, height = 900, options: { token?: boolean; theme?: 'light' | 'dark' } = {}): Promise<Watched> {
  const page = await browser.newPage({ viewport: { width, height }, colorScheme: options.theme ?? 'light' });
  const errors: string[] = [];
  const urls: string[] = [];
  const policyLines: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('request', (r) => urls.push(r.url()));
  page.on('console', (m) => {
    if (/Content Security Policy|Refused to/i.test(m.text())) policyLines.push(m.text());
    // A keys route answering 404 (a hub without it, as one test makes it) is the card's "not available", not an error of the page.
    else if (m.type() === 'error' && !(/status of 404/.test(m.text()) && /\/keys(\?|$)/.test(m.location().url))) errors.push(`${m.text()} ${m.location().url}`);
  });
  // Runs in the page before its own script (injected by the browser's debugger, so no policy applies to it).
  await page.addInitScript(`window.__violations = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI + ' ' + e.sourceFile + ':' + e.lineNumber));`);
  if (options.token !== false) await page.addInitScript(`localStorage.setItem('drover.token', ${JSON.stringify(TOKENS.admin)});`);
  const violations = async () => [...policyLines, ...(await page.evaluate<string[]>('window.__violations'))];
  return { page, errors, urls, violations };
}

/** axe-core's serious and critical findings on the page as it is now. */
async function axeFindings(page: Page): Promise<string[]> {
  await page.evaluate(axeSource);
  const result = await page.evaluate<{ violations: { id: string; impact: string; nodes: { target: string[] }[] }[] }>(
    `axe.run(document, { resultTypes: ['violations'] })`,
  );
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).slice(0, 5).join(', ')}`);
}

/** Real data for every page: tasks that succeeded and failed, a dead letter, a running task and its worker, a schedule, a chord. */
const seed = { queue: uniqueQueue('dash'), flowQueue: uniqueQueue('flow'), worker: '', running: '', dead: '', done: '', deadPage: 0, workflow: '', schedule: `dash-${process.pid}` };
beforeAll(async () => {
  const { queue } = seed;
  seed.worker = `${queue}-worker`;
  const made = await api.post('/v1/tasks/batch', {
    tasks: Array.from({ length: 7 }, (_, i) => ({ task: i === 6 ? 'later' : 'report.build', args: [i], kwargs: { page: i }, headers: { trace: `t${i}` }, queue, region: i < 2 ? 'eu' : null, maxRetries: 0 })),
  });
  expect(made.status).toBe(202);
  const worker = api.as(TOKENS.consume);
  // A lease of an hour: the running task must still be running when the last test looks at it, however slow the machine.
  const jobs = await claimAll(worker, queue, 5, { max: 5, region: 'eu', worker: seed.worker, tasks: ['report.build'], leaseSeconds: 3600 });
  for (const [i, job] of jobs.entries()) {
    if (i < 3) await worker.post(`/v1/leases/${job.leaseId}/ack`, { result: { rows: i * 10 } });
    else if (i === 3) await worker.post(`/v1/leases/${job.leaseId}/fail`, { error: { type: 'Broken', message: 'for the dashboard', stack: 'Traceback:\n  at build (report.ts:12)' } });
  }
  seed.done = jobs[0].id;
  seed.dead = jobs[3].id;
  seed.deadPage = jobs[3].kwargs.page;
  seed.running = jobs[4].id;
  expect((await beat()).status).toBe(200);
  const schedule = await api.post('/v1/schedules', { id: seed.schedule, every: 3600, task: 'report.nightly', queue });
  expect(schedule.status).toBe(201);
  const flow = await api.post('/v1/workflows', {
    chord: { header: [{ task: 'part', args: [1], queue: seed.flowQueue }, { task: 'part', args: [2], queue: seed.flowQueue }], body: { task: 'sum', queue: seed.flowQueue } },
  });
  expect(flow.status).toBe(202);
  seed.workflow = flow.body.id;
  const [first] = await claimAll(worker, seed.flowQueue, 1, { max: 1 });
  await worker.post(`/v1/leases/${first.leaseId}/ack`, { result: 1 });
}, 60_000);

/** The seed's worker says it runs the seed's running task (a worker is alive for 30 s after a heartbeat). */
function beat() {
  return api.as(TOKENS.consume).post(`/v1/workers/${seed.worker}/heartbeat`, {
    region: 'eu', queues: [seed.queue], concurrency: 4, processed: 3, failed: 1,
    active: [{ id: seed.running, task: 'report.build', queue: seed.queue, startedAt: new Date().toISOString() }],
  });
}

/** Each page, its hash, and what shows once its data is in. */
const PAGES = () => [
  { name: 'overview', hash: '#/overview', ready: '#throughput svg' },
  { name: 'queues', hash: '#/queues', ready: `tr[data-queue="${seed.queue}"]` },
  { name: 'queue', hash: `#/queues/${seed.queue}`, ready: 'dl.facts' },
  { name: 'tasks', hash: `#/tasks?queue=${seed.queue}`, ready: `tr[data-task="${seed.done}"]` },
  { name: 'task', hash: `#/tasks/${seed.dead}`, ready: 'dl.facts' },
  { name: 'dead', hash: `#/dead?queue=${seed.queue}`, ready: `tr[data-dead="${seed.dead}"]` },
  { name: 'workers', hash: '#/workers', ready: `tr[data-worker="${seed.worker}"]` },
  { name: 'schedules', hash: '#/schedules', ready: `tr[data-schedule="${seed.schedule}"]` },
  { name: 'workflows', hash: '#/workflows', ready: `tr[data-workflow="${seed.workflow}"]` },
  { name: 'workflow', hash: `#/workflows/${seed.workflow}`, ready: 'svg.graph' },
];

describe('every page of the dashboard', () => {
  for (const width of [390, 1440]) {
    it(`at ${width} px: loads with data, no error or policy violation, nothing off the side, no serious axe-core finding`, async () => {
      const { page, errors, violations } = await watched(width);
      for (const p of PAGES()) {
        await page.goto(`${url}/${p.hash}`);
        await page.waitForSelector(p.ready, { timeout: 15_000 });
        await expect.poll(() => page.textContent('#live'), { timeout: 10_000 }).toBe('live');
        expect(await page.evaluate<number>('document.documentElement.scrollWidth - innerWidth'), p.name).toBeLessThanOrEqual(0);
        expect(await axeFindings(page), p.name).toEqual([]);
        await page.screenshot({ path: resolve(SHOTS, `${p.name}-${width}.png`), fullPage: true });
        expect(errors, p.name).toEqual([]);
        expect(await violations(), p.name).toEqual([]);
      }
      await page.close();
    }, 180_000);
  }

  it('at the narrowest and widest screens (360 and 2560 px): nothing off the side on any page', async () => {
    for (const width of [360, 2560]) {
      const { page, errors } = await watched(width);
      for (const p of PAGES()) {
        await page.goto(`${url}/${p.hash}`);
        await page.waitForSelector(p.ready, { timeout: 15_000 });
        expect(await page.evaluate<number>('document.documentElement.scrollWidth - innerWidth'), `${p.name} at ${width}`).toBeLessThanOrEqual(0);
      }
      expect(errors).toEqual([]);
      await page.close();
    }
  }, 120_000);

  it('show what the data says: a dead letter\'s error and traceback, a worker\'s running task, the chord as a graph, links between them', async () => {
    const { page, errors } = await watched(1440);
    await page.goto(`${url}/#/dead?queue=${seed.queue}`);
    const row = `tr[data-dead="${seed.dead}"]`;
    await page.waitForSelector(row);
    expect(await page.textContent(row)).toContain('Broken: for the dashboard');
    await page.click(`${row} summary`);
    expect(await page.textContent(`${row} pre`)).toContain('at build (report.ts:12)');
    // The dead letter links to its task, which shows its error, arguments and headers, and links to its queue.
    await page.click(`${row} a[href="#/tasks/${seed.dead}"]`);
    await page.waitForSelector('dl.facts');
    const task = await page.textContent('main');
    for (const text of ['Broken', 'for the dashboard', 'report.ts:12', `"page": ${seed.deadPage}`, '"trace": "t3"', 'failed']) expect(task).toContain(text);
    await page.click(`main a[href="#/queues/${seed.queue}"]`);
    await page.waitForSelector('dl.facts');
    expect(await page.textContent('main h1')).toContain(seed.queue);

    // The worker shows what it runs now, linked to the task, and the task links back to its worker.
    await beat();
    await page.goto(`${url}/#/workers`);
    await page.waitForSelector(`tr[data-worker="${seed.worker}"] a[href="#/tasks/${seed.running}"]`);
    expect(await page.textContent(`tr[data-worker="${seed.worker}"]`)).toContain('alive');
    await page.click(`tr[data-worker="${seed.worker}"] a[href="#/tasks/${seed.running}"]`);
    await page.waitForSelector(`main a[href="#/workers?name=${encodeURIComponent(seed.worker)}"]`);

    // The chord: its two header tasks in one column, then its body, each node its state, linked to its task.
    await page.goto(`${url}/#/workflows/${seed.workflow}`);
    await page.waitForSelector('svg.graph');
    const nodes = await page.$$eval('svg.graph g', (gs) => gs.map((g) => g.getAttribute('class')));
    expect(nodes.sort()).toEqual(['n-pending', 'n-queued', 'n-succeeded']);
    const xs = await page.$$eval('svg.graph rect', (rs) => rs.map((r) => Number(r.getAttribute('x'))));
    expect(xs[0]).toBe(xs[1]);
    expect(xs[2]).toBeGreaterThan(xs[0]);
    expect(await page.$$eval('svg.graph a', (as) => as.length)).toBe(2);
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);
});

describe('the dashboard in use', () => {
  it('follows a queue live, replays a selected dead letter and purges a queue only after a confirm', async () => {
    const { page, errors, violations } = await watched(1440);
    const queue = uniqueQueue('live');
    await api.post('/v1/tasks/batch', { tasks: Array.from({ length: 4 }, (_, i) => ({ task: 'shown', args: [i], queue, maxRetries: 0 })) });
    await page.goto(`${url}/#/queues`);
    const row = `tr[data-queue="${queue}"]`;
    const waiting = () => page.textContent(`${row} td:nth-child(2)`);
    await expect.poll(waiting, { timeout: 10_000 }).toBe('4');
    await expect.poll(() => page.textContent('#live'), { timeout: 10_000 }).toBe('live');
    const worker = api.as(TOKENS.consume);
    const [job] = await claimAll(worker, queue, 1, { max: 1 });
    await worker.post(`/v1/leases/${job.leaseId}/fail`, { error: { type: 'Broken', message: 'live' } });
    // The row follows the event stream without a reload.
    await expect.poll(waiting, { timeout: 10_000 }).toBe('3');
    await expect.poll(() => page.textContent(`${row} td:nth-child(5)`), { timeout: 10_000 }).toBe('1');

    await page.click(`${row} a[href="#/dead?queue=${queue}"]`);
    await page.check(`tr[data-dead="${job.id}"] input[type=checkbox]`);
    await page.click('button[data-act="replay-selected"]');
    await expect.poll(async () => (await api.get(`/v1/tasks/${job.id}`)).body.state, { timeout: 10_000 }).toBe('queued');
    await expect.poll(() => page.textContent('main [role=status]')).toBe('1 replayed.');

    await page.goto(`${url}/#/queues`);
    await page.click(`${row} button[data-act="purge"]`);
    expect(await page.textContent(`${row} .confirm`)).toContain('Purge 4 waiting tasks');
    expect((await api.get(`/v1/queues/${queue}`)).body.ready).toBe(4); // nothing yet: it asks first
    await page.click(`${row} button[data-act="confirm-purge"]`);
    await expect.poll(waiting, { timeout: 10_000 }).toBe('0');
    expect((await api.get(`/v1/tasks/${job.id}`)).body.state).toBe('revoked');
    expect(errors).toEqual([]);
    expect(await violations()).toEqual([]);
    await page.close();
  }, 60_000);

  it('shows a queue\'s rate keys in a Keys card with a countdown while one is paused, and says so when the hub has no keys route', async () => {
    const { page, errors, violations } = await watched(1440);
    const keysOf = `${url}/v1/queues/${seed.queue}/keys?limit=100`;
    // A hub without the route (404), whatever this hub has: the card says keys are not available.
    await page.route(keysOf, (r) => r.fulfill({ status: 404, contentType: 'application/json', body: JSON.stringify({ error: { code: 'not_found', message: 'no such route' } }) }));
    await page.goto(`${url}/#/queues/${seed.queue}`);
    await page.waitForSelector('dl.facts');
    const card = page.locator('section.card', { has: page.locator('h2', { hasText: 'Keys' }) });
    await expect.poll(() => card.textContent(), { timeout: 10_000 }).toContain('Keys are not available: this hub does not list rate keys.');
    await page.unroute(keysOf);

    // An answer as the route gives it (docs/protocol.md): each key's row, and the pause counting down in the page.
    const pausedUntil = Date.now() + 45_000;
    await page.route(keysOf, (r) => r.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ keys: [
      { key: 'api.example.com', rate: '2/s', concurrency: null, currentRate: 1, pausedUntil, running: 0, waiting: 12, rateLimited: 3 },
      { key: 'shop.example.com', rate: '10/m', concurrency: 4, currentRate: 0.1, pausedUntil: null, running: 4, waiting: 250, rateLimited: 0 },
    ], nextCursor: null }) }));
    await page.goto(`${url}/#/overview`);
    await page.goto(`${url}/#/queues/${seed.queue}`);
    const apiRow = 'tr[data-key="api.example.com"]';
    await page.waitForSelector(apiRow, { timeout: 10_000 });
    const cells = (row: string) => page.$$eval(`${row} td`, (tds) => tds.map((td) => td.textContent));
    expect((await cells(apiRow)).slice(0, 5)).toEqual(['api.example.com', '1/s of 2/s', '-', '0', '12']);
    expect(await cells('tr[data-key="shop.example.com"]')).toEqual(['shop.example.com', '6/m of 10/m', '4', '4', '250', '']);
    const left = async () => Number(/^for (\d+) s$/.exec((await cells(apiRow))[5] ?? '')?.[1]);
    const first = await left();
    expect(first).toBeGreaterThan(35);
    expect(first).toBeLessThanOrEqual(45);
    await expect.poll(left, { timeout: 5_000 }).toBeLessThan(first);
    expect(await axeFindings(page)).toEqual([]);
    expect(errors).toEqual([]);
    expect(await violations()).toEqual([]);
    await page.close();
  }, 60_000);

  it('shows the keys the hub reports: a key paused by a rate-limited fail, and a key under its concurrency limit', async () => {
    const { page, errors } = await watched(1440);
    const queue = uniqueQueue('keys');
    expect((await api.request('PUT', `/v1/queues/${queue}/config`, { keyLimits: [{ match: 'api.example.com', rate: '2/s' }, { match: '*.example.com', rate: '10/s', concurrency: 4 }] })).status).toBe(200);
    const tasks = [...Array.from({ length: 3 }, (_, i) => ({ task: 'to.api', args: [i], queue, rateKey: 'api.example.com' })), ...Array.from({ length: 2 }, (_, i) => ({ task: 'to.shop', args: [i], queue, rateKey: 'shop.example.com' }))];
    expect((await api.post('/v1/tasks/batch', { tasks })).status).toBe(202);
    const worker = api.as(TOKENS.consume);
    const [job] = await claimAll(worker, queue, 1, { max: 1, tasks: ['to.api'] });
    const failed = await worker.post(`/v1/leases/${job.leaseId}/fail`, { error: { type: 'RateLimited', message: '429 from api.example.com' }, rateLimited: true, delaySeconds: 60 });
    expect(failed.body.state).toBe('delayed');
    await page.goto(`${url}/#/queues/${queue}`);
    const row = 'tr[data-key="api.example.com"]';
    await page.waitForSelector(row, { timeout: 10_000 });
    const cells = (r: string) => page.$$eval(`${r} td`, (tds) => tds.map((td) => td.textContent));
    const apiCells = await cells(row);
    expect(apiCells[0]).toBe('api.example.com');
    expect(apiCells[1]).toMatch(/^[\d.]+\/s of 2\/s$/);
    expect(apiCells.slice(2, 5)).toEqual(['-', '0', '3']);
    expect(apiCells[5]).toMatch(/^for (5\d|60) s$/);
    expect(await cells('tr[data-key="shop.example.com"]')).toEqual(['shop.example.com', '10/s of 10/s', '4', '0', '2', '']);
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);

  it('searches tasks by name and state, and an exact id opens the task', async () => {
    const { page } = await watched(1440);
    await page.goto(`${url}/#/tasks`);
    await page.fill('#f-queue', seed.queue);
    await page.selectOption('#f-state', 'succeeded');
    await page.click('#search button');
    await expect.poll(() => page.$$eval('tr[data-task]', (rows) => rows.length)).toBe(3);
    expect(page.url()).toContain('state=succeeded');
    await page.fill('#f-id', seed.dead);
    await page.press('#f-id', 'Enter');
    await page.waitForSelector('dl.facts');
    expect(page.url()).toContain(`#/tasks/${seed.dead}`);
    await page.close();
  });

  it('runs a schedule now, and pauses and resumes it', async () => {
    const { page, errors } = await watched(1440);
    const id = `dash-run-${process.pid}`;
    expect((await api.post('/v1/schedules', { id, cron: '0 3 * * *', timezone: 'Europe/Paris', task: 'report.daily', kwargs: { deep: true }, queue: seed.queue, maxRetries: 2 })).status).toBe(201);
    await page.goto(`${url}/#/schedules`);
    const row = `tr[data-schedule="${id}"]`;
    await page.click(`${row} button[data-act="run"]`);
    await page.waitForSelector('main [role=status] a');
    const made = (await page.getAttribute('main [role=status] a', 'href'))!.replace('#/tasks/', '');
    expect((await api.get(`/v1/tasks/${made}`)).body).toMatchObject({ task: 'report.daily', kwargs: { deep: true } });
    await page.click(`${row} button[data-act="pause"]`);
    await page.waitForSelector(`${row} button[data-act="resume"]`);
    // Paused with its definition unchanged.
    expect((await api.get(`/v1/schedules/${id}`)).body).toMatchObject({ enabled: false, cron: '0 3 * * *', timezone: 'Europe/Paris', kwargs: { deep: true }, maxRetries: 2 });
    await page.click(`${row} button[data-act="resume"]`);
    await page.waitForSelector(`${row} button[data-act="pause"]`);
    expect((await api.get(`/v1/schedules/${id}`)).body.enabled).toBe(true);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('asks for a token once and keeps it', async () => {
    const { page } = await watched(1440, 900, { token: false });
    await page.goto(url);
    await page.fill('#token', TOKENS.admin);
    await page.click('#login button');
    await page.waitForSelector('#throughput');
    await page.reload();
    await page.waitForSelector('#throughput');
    expect(await page.isHidden('#login')).toBe(true);
    await page.close();
  });

  it('works from the keyboard: a skip link first, then the nav; Enter opens a page', async () => {
    const { page } = await watched(1440);
    await page.goto(`${url}/#/overview`);
    await page.waitForSelector('#throughput svg');
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement.textContent')).toBe('Skip to content');
    let href = '';
    for (let i = 0; i < 15 && href !== '#/queues'; i++) {
      await page.keyboard.press('Tab');
      href = await page.evaluate<string>("document.activeElement.getAttribute('href') || ''");
    }
    expect(href).toBe('#/queues');
    // The focus is visible: an outline drawn around the link.
    expect(await page.evaluate("getComputedStyle(document.activeElement).outlineStyle")).toBe('solid');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.textContent('main h1')).toBe('Queues');
    expect(await page.evaluate('document.activeElement.tagName')).toBe('H1');
    await page.close();
  });

  it('switches between light and dark with a toggle it remembers, starting from the system\'s', async () => {
    const { page } = await watched(1440, 900, { theme: 'dark' });
    await page.goto(`${url}/#/overview`);
    await page.waitForSelector('#throughput svg');
    const background = () => page.evaluate<string>('getComputedStyle(document.body).backgroundColor');
    expect(await page.getAttribute('html', 'data-theme')).toBe('dark');
    const dark = await background();
    expect(await axeFindings(page)).toEqual([]); // contrast holds in the dark theme too
    await page.click('#theme');
    expect(await page.getAttribute('html', 'data-theme')).toBe('light');
    expect(await background()).not.toBe(dark);
    expect(await axeFindings(page)).toEqual([]);
    await page.reload();
    await page.waitForSelector('#throughput svg');
    expect(await page.getAttribute('html', 'data-theme')).toBe('light');
    await page.close();
  });

  it('on a phone, the nav folds behind a menu button', async () => {
    const { page } = await watched(390, 844);
    await page.goto(`${url}/#/overview`);
    await page.waitForSelector('#throughput svg');
    expect(await page.isVisible('nav a[href="#/workers"]')).toBe(false);
    await page.click('#menu');
    expect(await page.getAttribute('#menu', 'aria-expanded')).toBe('true');
    await page.click('nav a[href="#/workers"]');
    await expect.poll(() => page.textContent('main h1')).toBe('Workers');
    expect(await page.isVisible('nav a[href="#/workers"]')).toBe(false);
    await page.close();
  });

  it('draws the same per-minute totals after a reload (history from GET /v1/stats)', async () => {
    const { page } = await watched(1440);
    await page.goto(`${url}/#/overview`);
    const totals = () => page.getAttribute('#throughput', 'data-totals');
    // The seed's three successes and one failure are in the hub's history.
    await expect.poll(async () => /succeeded=(\d+) failed=(\d+)/.exec((await totals()) ?? '')?.slice(1).map(Number) ?? [0, 0], { timeout: 15_000 })
      .toSatisfy((n: number[]) => n[0] >= 3 && n[1] >= 1);
    // Other tests' tasks keep ending beside this one: the reloaded page draws what the hub's history
    // held between the reads just before and just after it, and nothing less than before.
    const counts = (text: string | null) => /succeeded=(\d+) failed=(\d+)/.exec(text ?? '')!.slice(1).map(Number);
    const hubTotals = async () => {
      const rows = (await api.get('/v1/stats')).body.minutes as { queue: string | null; succeeded: number; failed: number }[];
      return rows.filter((m) => m.queue === null).reduce((a, m) => [a[0] + m.succeeded, a[1] + m.failed], [0, 0]);
    };
    const before = counts(await totals());
    const hubBefore = await hubTotals();
    await page.reload();
    await page.waitForSelector('#throughput svg');
    const after = counts(await totals());
    const hubAfter = await hubTotals();
    for (const i of [0, 1]) {
      expect(after[i]).toBeGreaterThanOrEqual(Math.max(before[i], hubBefore[i]));
      expect(after[i]).toBeLessThanOrEqual(hubAfter[i]);
    }
    // The chart's label says the totals it drew: both read at once, as tasks may end between two reads.
    const drawn = await page.$eval('#throughput', (el) => [el.getAttribute('data-totals'), el.querySelector('svg')?.getAttribute('aria-label') ?? '']);
    expect(drawn[1]).toContain(`Succeeded ${counts(drawn[0])[0]}`);
    expect(await page.$$eval('#latency path.line', (ps) => ps.length)).toBe(3);
    await page.close();
  });

  it('shows a task\'s attempts on a timeline (attemptLog)', async () => {
    const { page } = await watched(1440);
    await page.goto(`${url}/#/tasks/${seed.dead}`);
    await page.waitForSelector('ol.timeline li');
    expect(await page.textContent('ol.timeline')).toContain('attempt 1: failed');
    expect(await page.textContent('ol.timeline')).toContain(seed.worker);
    await page.close();
  });

  it('lists recent workflows, each linking to its graph', async () => {
    const { page } = await watched(1440);
    await page.goto(`${url}/#/workflows`);
    await page.click(`tr[data-workflow="${seed.workflow}"] a`);
    await page.waitForSelector('svg.graph');
    await page.close();
  });

  it('keeps its side of the stream contract: a ticket per connection, never the token in a URL, the last id on reconnect, a reset reloads', async () => {
    // The hub's side is stood in for here (the browser answers the two stream routes), so this runs on any hub.
    const { page, errors } = await watched(1440);
    const opened: { url: string; auth: string | undefined }[] = [];
    let tickets = 0;
    await page.route('**/v1/events/ticket', (r) => r.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ ticket: `t${++tickets}`, expiresAt: new Date(Date.now() + 60_000).toISOString() }) }));
    await page.route('**/v1/events?**', (r) => {
      opened.push({ url: r.request().url(), auth: r.request().headers().authorization });
      const at = new Date().toISOString();
      // The first connection carries two ends and drops; the second starts with a reset; later ones say nothing.
      const body = opened.length === 1 ? `id: 7-1\nevent: task\ndata: {"id":"a","state":"succeeded","at":"${at}"}\n\nid: 7-2\nevent: task\ndata: {"id":"b","state":"failed","at":"${at}"}\n\n`
        : opened.length === 2 ? 'id: 8-0\nevent: reset\ndata: {}\n\n' : ': quiet\n\n';
      return r.fulfill({ status: 200, contentType: 'text/event-stream', body });
    });
    const statsCalls = () => page.evaluate<number>("performance.getEntriesByType('resource').filter((e) => e.name.includes('/v1/stats')).length");
    await page.goto(`${url}/#/overview`);
    await expect.poll(() => opened.length, { timeout: 15_000 }).toBeGreaterThanOrEqual(3);
    expect(new URL(opened[0].url).search).toBe('?ticket=t1');
    expect(new URL(opened[1].url).search).toBe('?ticket=t2&lastEventId=7-2');
    expect(new URL(opened[2].url).search).toBe('?ticket=t3&lastEventId=8-0');
    for (const o of opened) {
      expect(o.auth).toBeUndefined();
      expect(o.url).not.toContain(TOKENS.admin);
    }
    // The reset made the page read its history again.
    expect(await statsCalls()).toBeGreaterThanOrEqual(2);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('opens the stream with a ticket, never the token in a URL, and resumes after a drop without losing an event', async () => {
    const { page, urls, errors } = await watched(1440);
    // Every task change the page's streams bring, in order. The feed shows only the latest 20, and other files' tasks
    // on this shared hub can push a replayed change out of it before a poll looks.
    await page.addInitScript(`window.__streamed = [];
      const Source = window.EventSource;
      window.EventSource = class extends Source {
        constructor(...a) { super(...a); this.addEventListener('task', (m) => { const e = JSON.parse(m.data); window.__streamed.push(e.id + ' ' + e.state); }); }
      };`);
    const streamed = () => page.evaluate<string[]>('window.__streamed');
    await page.goto(`${url}/#/overview`);
    await expect.poll(() => page.textContent('#live'), { timeout: 10_000 }).toBe('live');
    const liveAt = Date.now();
    expect(urls.some((u) => u.includes('/v1/events?ticket='))).toBe(true);
    const queue = uniqueQueue('drop');
    // Queues publish once they know of a listener: wait until a change reaches the feed. A stream opened on a hub
    // nobody watched lately settles for QUIET_MS, and the ids it gives meanwhile resume to a reset
    // (src/events/EventsObject.ts): the page's last event before the drop is one made after that.
    const settledIds: string[] = [];
    await expect.poll(async () => {
      const settled = Date.now() - liveAt >= QUIET_MS;
      const { body } = await api.post('/v1/tasks', { task: 'before', queue });
      if (settled) settledIds.push(body.id);
      for (const id of settledIds) if (await page.locator(`#feed tr[data-event-task="${id}"]`).count()) return true;
      return false;
    }, { timeout: 30_000, interval: 1000 }).toBe(true);
    const ticketsBefore = urls.filter((u) => u.includes('/v1/events?ticket=')).length;
    await page.context().setOffline(true);
    await expect.poll(() => page.textContent('#live'), { timeout: 10_000 }).toBe('reconnecting');
    // Made while the page is offline: only the resumed stream can bring it to the page (a refresh never does).
    const during = (await api.post('/v1/tasks', { task: 'during', queue })).body.id;
    await page.context().setOffline(false);
    await expect.poll(async () => (await streamed()).includes(`${during} queued`), { timeout: 20_000 }).toBe(true);
    const resumed = urls.filter((u) => u.includes('/v1/events?ticket=')).slice(ticketsBefore);
    expect(resumed.length).toBeGreaterThan(0);
    expect(resumed[0]).toMatch(/\/v1\/events\?ticket=[^&]+&lastEventId=[0-9a-f]+-\d+$/);
    for (const u of urls) expect(u).not.toContain(TOKENS.admin);
    // A refresh the page made while it was offline fails in the browser's log; nothing else may.
    expect(errors.filter((e) => !/net::ERR_INTERNET_DISCONNECTED/.test(e))).toEqual([]);
    await page.close();
  }, 60_000);
});

describe('the hub\'s headers', () => {
  it('give the dashboard a policy of its own files only, and every answer no framing, sniffing or referrer', async () => {
    // /docs has its own page and policy, tested with it.
    const pages = [await fetch(url)];
    for (const res of pages) {
      const csp = res.headers.get('content-security-policy') ?? '';
      for (const directive of ["default-src 'self'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'self'", "object-src 'none'"]) expect(csp).toContain(directive);
      expect(csp).not.toContain('unsafe');
    }
    const shell = pages[0].headers.get('content-security-policy')!;
    expect(shell).toContain("script-src 'self'");
    expect(shell).toContain("style-src 'self'");
    const html = await pages[0].clone().text();
    expect(html).not.toMatch(/<script>|<style|style="|\son[a-z]+=/);
    const files = [await fetch(`${url}/dashboard.js`), await fetch(`${url}/dashboard.css`)];
    expect(files[0].headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(files[1].headers.get('content-type')).toMatch(/^text\/css/);
    const others = await Promise.all([
      fetch(`${url}/healthz`),
      fetch(`${url}/openapi.json`),
      fetch(`${url}/v1/queues`, { headers: { authorization: `Bearer ${TOKENS.admin}` } }),
      fetch(`${url}/v1/queues`),
      fetch(`${url}/no/such/page`),
    ]);
    for (const res of [...pages, ...files, ...others]) {
      expect(res.headers.get('x-content-type-options'), res.url).toBe('nosniff');
      expect(res.headers.get('referrer-policy'), res.url).toBe('no-referrer');
      expect(res.headers.get('x-frame-options'), res.url).toBe('DENY');
      expect(res.headers.get('content-security-policy'), res.url).toContain("frame-ancestors 'none'");
      await res.arrayBuffer();
    }
    // An API answer opened in a browser loads and runs nothing.
    expect(others[2].headers.get('content-security-policy')).toContain("default-src 'none'");
  });

  it('keep the dashboard out of another site\'s frame', async () => {
    const { page } = await watched(1440, 900, { token: false });
    const refused = page.waitForEvent('console', { predicate: (m) => /frame-ancestors/.test(m.text()), timeout: 10_000 });
    await page.setContent(`<iframe src="${url}/" width="800" height="600"></iframe>`);
    await refused;
    const framed = page.frames().find((f) => f !== page.mainFrame())!;
    expect(await framed.$('#token')).toBeNull();
    await page.close();
  });
});
