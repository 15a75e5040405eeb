// The dashboard in a real browser (Debian's chromium via playwright-core): token, live counts, replay, a screenshot.
import { existsSync, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
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

describe('the dashboard', () => {
  it('takes a token, shows a queue\'s counts changing as tasks are worked, and replays a dead task with a click', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1100 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(url);
    // First visit: it asks for a token once, then keeps it.
    await page.fill('#token', TOKENS.admin);
    await page.click('#login button');
    await page.waitForSelector('#queues');
    await expect.poll(() => page.textContent('#live'), { timeout: 10_000 }).toContain('live');

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
    expect(errors).toEqual([]);

    // The token stays: a second visit goes straight to the dashboard.
    await page.reload();
    await page.waitForSelector(row);
    expect(await page.isHidden('#login')).toBe(true);
    await page.close();
  });
});
