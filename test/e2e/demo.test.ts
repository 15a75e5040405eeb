// `npm run demo` keeps working: three regions, every page fetched from its own region, each site
// held to its limit across regions, a site's 429s obeyed, and the EU's pages kept in the EU's stores.
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { expect, it } from 'vitest';

it('runs the scraping demo to its per-site and per-region summaries', () => {
  const run = spawnSync('npm', ['run', 'demo', '--silent'], { cwd: resolve(import.meta.dirname, '../..'), encoding: 'utf8', timeout: 240_000 });
  const out = run.stdout.replace(/\r[^\n]*/g, '');
  expect(run.status, out + run.stderr).toBe(0);
  // Each site's mean rate is within its limit (the demo's exit says so too); the touchy shop answered
  // some 429s, each of which lowered its rate.
  const site = (name: string) => new RegExp(`^${name.replace('.', '\\.')}\\s+(\\d+)/s\\s+([\\d.]+)/s\\s+(\\d+)\\s+(\\d+)\\s+([\\d.]+)/s\\s+(.+)$`, 'm').exec(out);
  for (const [name, from] of [['news.cn', 'cn'], ['news.eu', 'weur'], ['shop.asia', 'apac, cn|cn, apac']] as const) {
    const m = site(name);
    expect(m, `${name} row in\n${out}`).not.toBeNull();
    expect(Number(m![2])).toBeLessThanOrEqual(Number(m![1]) * 1.1);
    expect(m![6]).toMatch(new RegExp(`^(${from})$`));
  }
  const shop = site('shop.asia')!;
  expect(Number(shop[4])).toBeGreaterThan(0);
  expect(out).toMatch(/^cn\s+70\s+cn-pull-1\s+0\s+the hub's stores$/m);
  expect(out).toMatch(/^weur\s+40\s+weur-regional\s+0\s+the EU jurisdiction's stores$/m);
  expect(out).toMatch(/^apac\s+30\s+apac-regional\s+0\s+the hub's stores$/m);
  expect(out).toContain('every page was fetched from its own region');
  expect(out).toContain('every site was fetched within its limit');
}, 300_000);
