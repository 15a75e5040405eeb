// /docs in a real browser (Debian's chromium via playwright-core): the bundled OpenAPI viewer renders
// the hub's operations under its content policy, asks nothing of any other origin, and fits a phone.
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from './browser.ts';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Api, TOKENS } from './system.ts';

const url = inject('hubUrl');
const api = new Api(url);
let browser: Browser;

beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(() => browser?.close());

/** A page that records script errors, console errors, policy violations, and every request to another origin. */
async function watched(width: number, height: number) {
  const page = await browser.newPage({ viewport: { width, height } });
  const errors: string[] = [];
  const elsewhere: string[] = [];
  const origin = new URL(url).origin;
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error' || /Content Security Policy|Refused to/i.test(m.text())) errors.push(m.text());
  });
  page.on('request', (r) => {
    if (!r.url().startsWith(`${origin}/`) && !r.url().startsWith('data:')) elsewhere.push(r.url());
  });
  await page.addInitScript(`window.__violations = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI + ' ' + e.sourceFile + ':' + e.lineNumber));`);
  const violations = () => page.evaluate<string[]>('window.__violations');
  return { page, errors, elsewhere, violations };
}

/** Opens /docs and waits until the viewer shows the operations of /openapi.json. */
async function openDocs(page: Page): Promise<void> {
  await page.goto(`${url}/docs`);
  await page.getByText('Enqueue a task', { exact: true }).first().waitFor({ timeout: 20_000 });
}

describe('/docs', () => {
  it('is served by the hub: a page, its viewer\'s script and styles at their own paths, cached long, under a policy of its own', async () => {
    const res = await fetch(`${url}/docs`);
    expect(res.status).toBe(200);
    const csp = res.headers.get('content-security-policy') ?? '';
    for (const directive of ["default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'"]) expect(csp).toContain(directive);
    expect(csp).not.toContain('unsafe');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    const html = await res.text();
    // No inline script or style: the policy would refuse them.
    expect(html).not.toMatch(/<script>|<style>|style="/);
    const assets = [...html.matchAll(/(?:src|href)="(\/docs\/[^"]+)"/g)].map((m) => m[1]);
    expect(assets.map((a) => a.split('?')[0]).sort()).toEqual(['/docs/docs.css', '/docs/start.js', '/docs/viewer.css', '/docs/viewer.js']);
    for (const asset of assets) {
      const got = await fetch(url + asset);
      expect(got.status, asset).toBe(200);
      expect(got.headers.get('content-type'), asset).toMatch(asset.includes('.js') ? /^text\/javascript/ : /^text\/css/);
      expect(got.headers.get('cache-control'), asset).toContain('max-age=31536000');
      expect((await got.text()).length, asset).toBeGreaterThan(100);
    }
    expect((await fetch(`${url}/docs/viewer.js`)).headers.get('content-type')).toMatch(/^text\/javascript/);
    for (const missing of ['/docs/nothing.js', '/docs/toString', '/docs/__proto__']) {
      const res = await api.as(null).get(missing);
      expect(res.status, missing).toBe(404);
      expect(res.body.error.code, missing).toBe('not_found');
    }
  });

  for (const [width, height] of [[1440, 900], [390, 844]] as const) {
    it(`renders every operation at ${width} px: no error, no policy violation, no request elsewhere, nothing off the side`, async () => {
      const { page, errors, elsewhere, violations } = await watched(width, height);
      await openDocs(page);
      const doc = (await api.as(null).get('/openapi.json')).body;
      const summaries = Object.values<any>(doc.paths).flatMap((methods) => Object.values<any>(methods).map((op) => op.summary as string));
      const shown = await page.locator('.opblock-summary-description').allTextContents();
      expect(shown.sort()).toEqual(summaries.sort());
      // One operation opened: its answer's schema is shown, as the document gives it.
      await page.getByText('Read a task (?wait holds until final)', { exact: true }).click();
      await page.getByText('revokeRequested').first().waitFor({ timeout: 10_000 });
      expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(width);
      expect(errors).toEqual([]);
      expect(await violations()).toEqual([]);
      expect(elsewhere).toEqual([]);
      await page.screenshot({ path: `test-results/docs-${width}.png`, fullPage: false }).catch(() => {});
      await page.close();
    });
  }

  it('calls the API from the page with a token given to it', async () => {
    const { page, errors, elsewhere, violations } = await watched(1440, 900);
    await openDocs(page);
    await page.getByRole('button', { name: /Authorize/ }).first().click();
    await page.locator('.modal-ux input').first().fill(TOKENS.admin);
    await page.locator('.modal-ux button.authorize').click();
    await page.locator('.modal-ux button.close-modal').click();
    await page.getByText('Queue statistics', { exact: true }).click();
    await page.getByRole('button', { name: 'Try it out' }).click();
    await page.getByRole('button', { name: 'Execute' }).click();
    const status = page.locator('.live-responses-table tbody .response-col_status').first();
    await status.waitFor({ timeout: 10_000 });
    expect(await status.textContent()).toContain('200');
    // The hub's answer, shown as it came.
    expect(await page.locator('.live-responses-table tbody .response-col_description').first().textContent()).toContain('"queues"');
    expect(errors).toEqual([]);
    expect(await violations()).toEqual([]);
    expect(elsewhere).toEqual([]);
    await page.close();
  });
});
