// CORS is off unless DROVER_CORS_ORIGINS names origins; then only those get it.
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { app } from './app.ts';

const preflight = (origin: string, vars: Partial<typeof env>) =>
  app.request('/v1/tasks', { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST' } }, { ...env, ...vars });

describe('CORS', () => {
  it('is off by default', async () => {
    const res = await preflight('https://dash.example', { DROVER_CORS_ORIGINS: undefined });
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('answers only the configured origins', async () => {
    const vars = { DROVER_CORS_ORIGINS: 'https://dash.example, https://ops.example' };
    expect((await preflight('https://dash.example', vars)).headers.get('access-control-allow-origin')).toBe('https://dash.example');
    expect((await preflight('https://evil.example', vars)).headers.get('access-control-allow-origin')).toBeNull();
  });
});
