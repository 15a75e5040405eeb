// Waking regional consumers: a lane that gains work wakes its region once, untagged work wakes none.
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { taskSpec } from '../../test/specs.ts';

async function wakesOf(region: 'WEUR' | 'APAC'): Promise<{ body: string }[]> {
  return (await env[`REGION_${region}`].fetch('https://stand-in/')).json();
}

describe('region wakes', () => {
  it('wakes the region whose lane gained work, once per burst, and not for untagged work', async () => {
    const queue = `wake-${Date.now()}`;
    const stub = env.QUEUES.getByName(queue);
    const before = { weur: (await wakesOf('WEUR')).length, apac: (await wakesOf('APAC')).length };
    await stub.deliver([taskSpec({ queue })]);
    await stub.deliver(Array.from({ length: 5 }, () => taskSpec({ queue, region: 'weur' })));
    await stub.deliver([taskSpec({ queue, region: 'weur' })]);
    await new Promise((r) => setTimeout(r, 400));
    const weur = (await wakesOf('WEUR')).slice(before.weur);
    expect(weur.length).toBeGreaterThanOrEqual(1);
    expect(weur.length).toBeLessThanOrEqual(2);
    expect(JSON.parse(weur[0].body)).toEqual({ queue, region: 'weur' });
    expect((await wakesOf('APAC')).length).toBe(before.apac);
    expect((await stub.stats()).regionWakes).toBe(weur.length);
  });
});
