// Bearer tokens to principals: the scopes of DROVER_TOKENS, and tokens matched before found again.
import { describe, expect, it } from 'vitest';
import { principalOf } from './principals.ts';

const bearer = (token: string) => `Bearer ${token}`;

describe('principalOf', () => {
  it('finds a token again with the same principal, and refuses one DROVER_TOKENS no longer lists', async () => {
    const tokens = 'tok-admin:admin,tok-eu:enqueue+consume@eu';
    const first = await principalOf(bearer('tok-eu'), tokens);
    expect(first).toMatchObject({ admin: false, enqueue: true, consumeAny: false });
    expect([...first.consumeRegions]).toEqual(['eu']);
    expect(await principalOf(bearer('tok-eu'), tokens)).toBe(first);
    expect((await principalOf(bearer('tok-admin'), tokens)).admin).toBe(true);
    // The same token with other scopes, then gone: the list as it is now decides.
    expect((await principalOf(bearer('tok-eu'), 'tok-admin:admin,tok-eu:admin')).admin).toBe(true);
    await expect(principalOf(bearer('tok-eu'), 'tok-admin:admin')).rejects.toMatchObject({ code: 'unauthorized' });
  });

  it('refuses an unknown token every time, and a malformed header', async () => {
    const tokens = 'tok-a:admin';
    for (let i = 0; i < 2; i++) await expect(principalOf(bearer('tok-b'), tokens)).rejects.toMatchObject({ code: 'unauthorized', message: expect.stringMatching(/not known/) });
    await expect(principalOf('Basic tok-a', tokens)).rejects.toMatchObject({ code: 'unauthorized', message: expect.stringMatching(/Bearer/) });
    await expect(principalOf(undefined, tokens)).rejects.toMatchObject({ code: 'unauthorized' });
  });
});
