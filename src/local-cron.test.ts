// The cron route on the hub's port answers only where npm start turned it on; elsewhere it is a plain 404.
import { createExecutionContext, env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import hub from './hub.ts';
import { LOCAL_CRON_PATH, withLocalCron } from './local-cron.ts';

const cronUrl = (query = '') => `http://127.0.0.1:8787${LOCAL_CRON_PATH}${query}`;

describe('the local cron route', () => {
  it('is a plain 404 on a hub without DROVER_LOCAL_CRON, as on a deployed one', async () => {
    const res = await hub.fetch(new Request(cronUrl('?cron=*+*+*+*+*')), { ...env, DROVER_LOCAL_CRON: undefined }, createExecutionContext());
    const unknown = await hub.fetch(new Request('http://hub/cdn-cgi/handler/elsewhere'), env, createExecutionContext());
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { code: 'not_found' } });
    expect(unknown.status).toBe(404);
  });

  it('is a plain 404 when the var says anything but "true"', async () => {
    const res = await hub.fetch(new Request(cronUrl()), { ...env, DROVER_LOCAL_CRON: '1' }, createExecutionContext());
    expect(res.status).toBe(404);
  });

  it('runs the cron trigger with the cron and time asked for, and answers once it is done', async () => {
    const seen: { cron: string; scheduledTime: number }[] = [];
    let done = false;
    const fetch = withLocalCron(
      () => new Response('the app', { status: 404 }),
      async (controller) => {
        await new Promise((r) => setTimeout(r, 20));
        seen.push({ cron: controller.cron, scheduledTime: controller.scheduledTime });
        done = true;
      },
    );
    const on = { ...env, DROVER_LOCAL_CRON: 'true' };
    const res = await fetch(new Request(cronUrl('?cron=*+*+*+*+*&time=1800000000000')), on, createExecutionContext());
    expect(done).toBe(true);
    expect([res.status, await res.text()]).toEqual([200, 'ok']);
    expect(seen).toEqual([{ cron: '* * * * *', scheduledTime: 1_800_000_000_000 }]);

    const before = Date.now();
    const json = await fetch(new Request(cronUrl('?format=json')), on, createExecutionContext());
    expect(await json.json()).toEqual({ outcome: 'ok', noRetry: false });
    expect(seen[1].cron).toBe('');
    expect(seen[1].scheduledTime).toBeGreaterThanOrEqual(before);

    expect((await fetch(new Request(cronUrl('?time=soon')), on, createExecutionContext())).status).toBe(400);
    expect(seen).toHaveLength(2);
    expect((await fetch(new Request('http://hub/healthz'), on, createExecutionContext())).status).toBe(404);
  });

  it('refuses what a browser sends from another site, and a name that is not loopback', async () => {
    let runs = 0;
    const fetch = withLocalCron(
      () => new Response(null, { status: 404 }),
      async () => {
        runs++;
      },
    );
    const on = { ...env, DROVER_LOCAL_CRON: 'true' };
    const from = (site: string) => fetch(new Request(cronUrl(), { headers: { 'sec-fetch-site': site } }), on, createExecutionContext());
    expect((await from('cross-site')).status).toBe(403);
    expect((await from('same-site')).status).toBe(403);
    expect((await fetch(new Request(`http://rebound.example:8787${LOCAL_CRON_PATH}`), on, createExecutionContext())).status).toBe(403);
    expect(runs).toBe(0);
    // The address bar (none) and the hub's own pages (same-origin) may.
    expect((await from('none')).status).toBe(200);
    expect((await from('same-origin')).status).toBe(200);
    expect((await fetch(new Request(`http://localhost:8787${LOCAL_CRON_PATH}`), on, createExecutionContext())).status).toBe(200);
    expect(runs).toBe(3);
  });

  it('answers 500 "exception" when the trigger throws, as wrangler does', async () => {
    const fetch = withLocalCron(
      () => new Response(null, { status: 404 }),
      async () => {
        throw new Error('boom');
      },
    );
    const res = await fetch(new Request(cronUrl()), { ...env, DROVER_LOCAL_CRON: 'true' }, createExecutionContext());
    expect([res.status, await res.text()]).toEqual([500, 'exception']);
  });
});
