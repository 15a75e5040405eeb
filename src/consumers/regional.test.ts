// A regional consumer's fetch handler: every route wants a token that may consume from its region.
import { describe, expect, it } from 'vitest';
import { regionalConsumer, type RegionalEnv } from './regional.ts';

const { worker } = regionalConsumer({ region: 'weur', tasks: [] });
const TOKENS = 'r-admin:admin,r-weur:consume@weur,r-cn:consume@cn,r-any:consume,r-enqueue:enqueue';

/** An env whose consumer object records its wakes instead of draining anything. */
function standIn(tokens: string | null = TOKENS) {
  const woken: string[] = [];
  const stub = { wake: async (q: string) => void woken.push(q), stats: async () => ({ region: 'weur', wakes: woken.length }) };
  const env = { DROVER_TOKENS: tokens ?? undefined, QUEUES: null, CONSUMER: { idFromName: (n: string) => n, get: () => stub } } as unknown as RegionalEnv;
  return { env, woken };
}

function call(env: RegionalEnv, method: string, path: string, token?: string, body?: string) {
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  return worker.fetch(new Request(`https://drover-weur.example${path}`, { method, headers, body }), env);
}

const wake = JSON.stringify({ queue: 'scrape', region: 'weur' });

describe('a regional consumer', () => {
  it('answers 401 in the protocol\'s error shape to /wake, /stats and any path without a known token, and wakes nothing', async () => {
    const { env, woken } = standIn();
    for (const [method, path, body] of [['POST', '/wake', wake], ['GET', '/stats'], ['GET', '/'], ['GET', '/nowhere']] as const) {
      for (const token of [undefined, 'made-up']) {
        const res = await call(env, method, path, token, body);
        expect(res.status, `${method} ${path} ${token}`).toBe(401);
        expect(await res.json()).toEqual({ error: { code: 'unauthorized', message: expect.any(String) } });
      }
    }
    expect(woken).toEqual([]);
  });

  it('refuses every token when it has no DROVER_TOKENS of its own', async () => {
    const { env, woken } = standIn(null);
    expect((await call(env, 'POST', '/wake', 'r-admin', wake)).status).toBe(401);
    expect((await call(env, 'GET', '/stats', 'r-admin')).status).toBe(401);
    expect(woken).toEqual([]);
  });

  it('answers 403 to a token that may not consume from its region', async () => {
    const { env, woken } = standIn();
    for (const token of ['r-cn', 'r-enqueue']) {
      const res = await call(env, 'POST', '/wake', token, wake);
      expect(res.status).toBe(403);
      expect(await res.json()).toEqual({ error: { code: 'forbidden', message: expect.any(String) } });
    }
    expect(woken).toEqual([]);
  });

  it('takes wakes and shows stats for admin, consume and consume@weur tokens', async () => {
    const { env, woken } = standIn();
    for (const token of ['r-weur', 'r-any', 'r-admin']) {
      expect((await call(env, 'POST', '/wake', token, wake)).status).toBe(202);
      const stats = await call(env, 'GET', '/stats', token);
      expect(stats.status).toBe(200);
      expect(await stats.json()).toMatchObject({ region: 'weur' });
    }
    expect(woken).toEqual(['scrape', 'scrape', 'scrape']);
  });

  it('answers a bad wake with 400 and an unknown path with 404, in the error shape', async () => {
    const { env, woken } = standIn();
    for (const body of ['{"queue":', '{}', '{"queue": 7}', '']) {
      const res = await call(env, 'POST', '/wake', 'r-weur', body);
      expect(res.status, body).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('invalid_request');
    }
    const res = await call(env, 'GET', '/nowhere', 'r-weur');
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('not_found');
    expect(woken).toEqual([]);
  });
});
