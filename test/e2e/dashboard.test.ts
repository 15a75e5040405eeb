// The dashboard in a real browser (Debian's chromium via playwright-core): token, live counts, replay, a screenshot,
// all under its content policy (no violation at desktop or phone width), and no one may frame it.
import { existsSync, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Api, TOKENS, claimAll, uniqueQueue } from './system.ts';

const url = inject('hubUrl');
const api = new Api(url);
const CHROMIUM = '/usr/bin/chromium';
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium), as .ci/run does`);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
});
afterAll(() => browser?.close());

/** A page that records script errors and every content-policy violation, however the browser reports it. */
async function watched(width: number, height: number): Promise<{ page: Page; errors: string[]; violations: () => Promise<string[]> }> {
  const page = await browser.newPage({ viewport: { width, height } });
  const errors: string[] = [];
  const policyLines: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (/Content Security Policy|Refused to/i.test(m.text())) policyLines.push(m.text());
  });
  // Runs in the page before its own script (injected by the browser's debugger, so no policy applies to it).
  await page.addInitScript(`window.__violations = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI + ' ' + e.sourceFile + ':' + e.lineNumber));`);
  const violations = async () => [...policyLines, ...(await page.evaluate<string[]>('window.__violations'))];
  return { page, errors, violations };
}

async function logIn(page: Page): Promise<void> {
  await page.goto(url);
  await page.fill('#token', TOKENS.admin);
  await page.click('#login button');
  await page.waitForSelector('#queues');
  await expect.poll(() => page.textContent('#live'), { timeout: 10_000 }).toContain('live');
}

describe('the hub\'s headers', () => {
  it('give the pages a content policy of their own (inline code only by hash) and every answer no framing, sniffing or referrer', async () => {
    // /docs has a policy of its own (scripts and styles from the hub, none inline): test/e2e/docs-page.test.ts.
    const pages = [await fetch(url)];
    for (const res of pages) {
      const csp = res.headers.get('content-security-policy') ?? '';
      for (const directive of ["default-src 'self'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'self'", "object-src 'none'"]) expect(csp).toContain(directive);
      expect(csp).toMatch(/style-src 'sha256-[A-Za-z0-9+/]{43}='/);
      expect(csp).not.toContain('unsafe');
    }
    expect(pages[0].headers.get('content-security-policy')).toMatch(/script-src 'sha256-[A-Za-z0-9+/]{43}='/);
    const others = await Promise.all([
      fetch(`${url}/healthz`),
      fetch(`${url}/openapi.json`),
      fetch(`${url}/v1/queues`, { headers: { authorization: `Bearer ${TOKENS.admin}` } }),
      fetch(`${url}/v1/queues`),
      fetch(`${url}/no/such/page`),
    ]);
    for (const res of [...pages, ...others]) {
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
    const { page } = await watched(1440, 900);
    const refused = page.waitForEvent('console', { predicate: (m) => /frame-ancestors/.test(m.text()), timeout: 10_000 });
    await page.setContent(`<iframe src="${url}/" width="800" height="600"></iframe>`);
    await refused;
    const framed = page.frames().find((f) => f !== page.mainFrame())!;
    expect(await framed.$('#token')).toBeNull();
    await page.close();
  });
});

describe('the dashboard', () => {
  it('takes a token, shows a queue\'s counts changing as tasks are worked, and replays a dead task with a click', async () => {
    const { page, errors, violations } = await watched(1440, 1100);
    // First visit: it asks for a token once, then keeps it.
    await logIn(page);

    const queue = uniqueQueue('dash');
    await api.post('/v1/tasks/batch', { tasks: Array.from({ length: 5 }, (_, i) => ({ task: 'shown', args: [i], queue, region: i < 2 ? 'cn' : null, maxRetries: 0 })) });
    const row = `tr[data-queue="${queue}"]`;
    await expect.poll(() => page.textContent(`${row} td.ready`), { timeout: 10_000 }).toBe('5');
    expect(await page.textContent(row)).toContain('cn 2/0');

    // Worked: three succeed, one fails for good; the row follows without a reload.
    const worker = api.as(TOKENS.consume);
    const jobs = await claimAll(worker, queue, 4, { max: 4, region: 'cn' });
    for (const [i, job] of jobs.entries()) {
      if (i < 3) await worker.post(`/v1/leases/${job.leaseId}/ack`, { result: { i } });
      else await worker.post(`/v1/leases/${job.leaseId}/fail`, { error: { type: 'Broken', message: 'for the dashboard', stack: 'at shown (tasks.ts:1)' } });
    }
    await expect.poll(() => page.textContent(`${row} td.ready`), { timeout: 10_000 }).toBe('1');
    await expect.poll(() => page.textContent(`${row} td.failed`), { timeout: 10_000 }).toBe('1');
    await expect.poll(() => page.textContent('#rate'), { timeout: 10_000 }).not.toMatch(/^0\.0\/s succeeded/);

    // The dead letter: shown with its error, replayed with a click, back in the queue.
    const [dead] = (await api.get(`/v1/queues/${queue}/dead`)).body.tasks;
    await page.click(`${row} button[data-act="dead"]`);
    await page.waitForSelector(`tr[data-dead="${dead.id}"]`);
    expect(await page.textContent(`tr[data-dead="${dead.id}"]`)).toContain('Broken');
    await page.click(`tr[data-dead="${dead.id}"] a[data-task]`);
    await expect.poll(() => page.textContent('#detail')).toContain('for the dashboard');
    const dir = resolve(import.meta.dirname, '../../test-results');
    mkdirSync(dir, { recursive: true });
    await page.screenshot({ path: resolve(dir, 'dashboard.png'), fullPage: true });
    await page.click(`tr[data-dead="${dead.id}"] button[data-act="replay"]`);
    await expect.poll(async () => (await api.get(`/v1/tasks/${dead.id}`)).body.state, { timeout: 10_000 }).toBe('queued');
    await expect.poll(() => page.textContent(`${row} td.ready`), { timeout: 10_000 }).toBe('2');

    // Workers by state: one heartbeating is alive; one that said it was leaving is not listed.
    const [alive, leaving] = [`${queue}-alive`, `${queue}-leaving`];
    for (const [name, left] of [[alive, false], [leaving, true]] as const) {
      const beat = await worker.post(`/v1/workers/${name}/heartbeat`, { queues: [queue], concurrency: 2, leaving: left });
      expect(beat.status).toBe(200);
    }
    await expect.poll(() => page.textContent('#workers'), { timeout: 15_000 }).toContain(`${alive}alive`);
    expect(await page.textContent('#workers')).not.toContain(leaving);
    expect(errors).toEqual([]);

    // The token stays: a second visit goes straight to the dashboard.
    await page.reload();
    await page.waitForSelector(row);
    expect(await page.isHidden('#login')).toBe(true);
    // Its own script and style ran under the policy, and nothing of it was refused.
    expect(await violations()).toEqual([]);
    await page.close();
  });

  it('works on a phone (390 px wide) under its policy: live counts, a task in full, nothing off the side', async () => {
    const { page, errors, violations } = await watched(390, 844);
    await logIn(page);
    const queue = uniqueQueue('phone');
    const made = await api.post('/v1/tasks/batch', { tasks: Array.from({ length: 3 }, (_, i) => ({ task: 'on.phone', args: [i], queue })) });
    const row = `tr[data-queue="${queue}"]`;
    await expect.poll(() => page.textContent(`${row} td.ready`), { timeout: 10_000 }).toBe('3');
    const worker = api.as(TOKENS.consume);
    for (const job of await claimAll(worker, queue, 2, { max: 2 })) await worker.post(`/v1/leases/${job.leaseId}/ack`, { result: { phone: true } });
    await expect.poll(() => page.textContent(`${row} td.ready`), { timeout: 10_000 }).toBe('1');
    await page.fill('#f-queue', queue);
    await page.click('#search button');
    await page.click(`a[data-task="${made.body.tasks[0].id}"]`);
    await expect.poll(() => page.textContent('#detail')).toContain('on.phone');
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    const dir = resolve(import.meta.dirname, '../../test-results');
    mkdirSync(dir, { recursive: true });
    await page.screenshot({ path: resolve(dir, 'dashboard-phone.png'), fullPage: true });
    expect(errors).toEqual([]);
    expect(await violations()).toEqual([]);
    await page.close();
  });
});
