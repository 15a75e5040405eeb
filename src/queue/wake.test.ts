// Waking regional consumers: a lane that gains work wakes its region once, untagged work wakes none.
// Waking claims: a task wakes one waiting claim, which passes the wake on if it cannot use it.
import { env, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { taskSpec } from '../../test/specs.ts';
import type { QueueObject } from './QueueObject.ts';
import type { ClaimedRow, ClaimRequest } from './transitions.ts';
import { wakeToken } from './wake.ts';

async function wakesOf(region: 'WEUR' | 'APAC'): Promise<{ body: string; authorization: string | null }[]> {
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
    // Regional consumers answer only to a token (the unit hub's DROVER_TOKENS is one admin token).
    expect(weur.map((w) => w.authorization)).toEqual(weur.map(() => 'Bearer unit-admin'));
    expect((await wakesOf('APAC')).length).toBe(before.apac);
    expect((await stub.stats()).regionWakes).toBe(weur.length);
  });
});

describe('the token a wake carries', () => {
  it('is the narrowest of the hub\'s tokens that may consume from the region', () => {
    const tokens = ' a:admin , e:enqueue, any:consume+enqueue ,cn:consume@cn, weur:enqueue+consume@weur,bad';
    expect(wakeToken(tokens, 'weur')).toBe('weur');
    expect(wakeToken(tokens, 'cn')).toBe('cn');
    expect(wakeToken(tokens, 'apac')).toBe('any');
    expect(wakeToken('a:admin,e:enqueue', 'apac')).toBe('a');
    expect(wakeToken('e:enqueue,cn:consume@cn', 'apac')).toBeNull();
    expect(wakeToken(undefined, 'apac')).toBeNull();
  });
});

describe('claim wakes', () => {
  const req = (queue: string, worker: string, over: Partial<ClaimRequest> = {}): ClaimRequest => ({
    queue, worker, region: null, tasks: null, max: 10, leaseSeconds: null, owner: null, ...over,
  });
  /** Counts the times claims look at the tables (each waiting claim looks once, then on each wake). */
  async function countLooks(stub: DurableObjectStub<QueueObject>): Promise<() => Promise<number>> {
    await runInDurableObject(stub, (instance) => {
      const o = instance as unknown as { claimHere: (r: ClaimRequest) => unknown; looks: number };
      const claimHere = o.claimHere.bind(o);
      o.looks = 0;
      o.claimHere = (r) => {
        o.looks++;
        return claimHere(r);
      };
    });
    return () => runInDurableObject(stub, (instance) => (instance as unknown as { looks: number }).looks);
  }
  /** Starts claims one after another, so that they wait in this order. */
  async function waiting(stub: DurableObjectStub<QueueObject>, reqs: ClaimRequest[]) {
    const claims: { worker: string; jobs: ClaimedRow[] | null }[] = [];
    for (const r of reqs) {
      const c = { worker: r.worker, jobs: null as ClaimedRow[] | null };
      void stub.claim(r, 5000).then((jobs) => (c.jobs = jobs));
      claims.push(c);
      await new Promise((res) => setTimeout(res, 50));
    }
    return claims;
  }
  const settle = () => new Promise((r) => setTimeout(r, 300));

  it('wakes as many waiting claims as tasks came, oldest first, not all of them', async () => {
    const queue = `claim-wakes-${Date.now()}`;
    const stub = env.QUEUES.getByName(queue);
    const looks = await countLooks(stub);
    const claims = await waiting(stub, ['w1', 'w2', 'w3'].map((w) => req(queue, w, { max: 1 })));
    expect(await looks()).toBe(3);

    const [one] = [taskSpec({ queue })];
    await stub.deliver([one]);
    await settle();
    expect(claims.map((c) => c.jobs?.map((j) => j.id) ?? null)).toEqual([[one.id], null, null]);
    expect(await looks()).toBe(4); // the two claims still waiting never looked

    const two = [taskSpec({ queue }), taskSpec({ queue })];
    await stub.deliver(two);
    await settle();
    expect(claims.slice(1).map((c) => c.jobs?.length)).toEqual([1, 1]);
    expect(claims.slice(1).flatMap((c) => c.jobs!.map((j) => j.id)).sort()).toEqual(two.map((t) => t.id).sort());
    expect(await looks()).toBe(6);
  });

  it('passes a wake a claim cannot use on to the next claim in line', async () => {
    const queue = `claim-wakes-${Date.now()}`;
    const stub = env.QUEUES.getByName(queue);
    // The oldest claim takes only task "a"; task "b" wakes it first, and it finds nothing to take.
    const claims = await waiting(stub, [req(queue, 'only-a', { tasks: ['a'] }), req(queue, 'only-b', { tasks: ['b'] })]);
    const b = taskSpec({ queue, task: 'b' });
    await stub.deliver([b]);
    await settle(); // well inside the claims' 5 s wait
    expect(claims[1].jobs?.map((j) => j.id)).toEqual([b.id]);
    expect(claims[0].jobs).toBeNull();
  });
});
