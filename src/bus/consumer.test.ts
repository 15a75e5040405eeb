// The bus consumer: batches reach their QueueObjects at least once, repeats change nothing, junk is dropped.
import { createExecutionContext, createMessageBatch, env, getQueueResult } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import worker from '../hub.ts';
import { taskSpec } from '../../test/specs.ts';
import { getTaskRow, recordTasks } from '../db/records.ts';
import type { Envelope } from './envelope.ts';
import { pack } from './envelope.ts';


async function run(bodies: unknown[]) {
  const batch = createMessageBatch<unknown>(
    'drover-bus',
    bodies.map((body, i) => ({ id: `m${i}`, timestamp: new Date(), attempts: 1, body })),
  );
  const ctx = createExecutionContext();
  await (worker as ExportedHandler<typeof env>).queue!(batch as MessageBatch<unknown>, env, ctx);
  return getQueueResult(batch, ctx);
}

describe('the bus consumer', () => {
  it('delivers each task to its queue, acks the messages, and a repeat adds nothing', async () => {
    const a = taskSpec({ queue: 'bus-a' });
    const b = taskSpec({ queue: 'bus-b' });
    const envelope: Envelope = { v: 1, tasks: [a, b], recorded: true };
    const first = await run([envelope, envelope]);
    expect(first.explicitAcks.sort()).toEqual(['m0', 'm1']);
    expect(first.retryMessages).toEqual([]);
    await run([envelope]);
    expect((await env.QUEUES.getByName('bus-a').stats()).ready).toBe(1);
    expect((await env.QUEUES.getByName('bus-b').stats()).ready).toBe(1);
  });

  it('acks and drops a message that is not an envelope', async () => {
    const result = await run([{ hello: 'world' }, 'text', null]);
    expect(result.explicitAcks.sort()).toEqual(['m0', 'm1', 'm2']);
  });

  it('records tasks another Worker put straight on the bus, idempotency included', async () => {
    const a = taskSpec({ queue: 'bus-c', idempotencyKey: 'direct-1' });
    const dup = taskSpec({ queue: 'bus-c', idempotencyKey: 'direct-1' });
    await run([{ v: 1, tasks: [a], recorded: false }, { v: 1, tasks: [dup], recorded: false }]);
    expect((await getTaskRow(env.DB, a.id))?.task).toBe('job');
    expect(await getTaskRow(env.DB, dup.id)).toBeUndefined();
    expect((await env.QUEUES.getByName('bus-c').stats()).ready).toBe(1);
  });

  it('reads tasks too large for one message back from D1 by id', async () => {
    const big = taskSpec({ queue: 'bus-d', args: JSON.stringify(['z'.repeat(125_000)]) });
    await recordTasks(env.DB, [big]);
    const [[message]] = pack([big], true);
    expect(message).toEqual({ v: 1, refs: [big.id] });
    await run([message]);
    const [job] = await env.QUEUES.getByName('bus-d').claim(
      { queue: 'bus-d', worker: 'w', region: null, tasks: null, max: 1, leaseSeconds: null, owner: null }, 0,
    );
    expect(job.args).toBe(big.args);
  });

  it("hands a weur task over the bus as its id alone, read back from the EU's D1 into the queue's EU object", async () => {
    // weur is bound to the EU in wrangler.toml: its args must not rest in the bus outside it.
    const eu = taskSpec({ queue: 'bus-eu', region: 'weur', args: JSON.stringify(['eu-only']) });
    const plain = taskSpec({ queue: 'bus-eu', args: JSON.stringify(['anywhere']) });
    await recordTasks(env.DB_EU!, [eu]);
    await recordTasks(env.DB, [plain]);
    const messages = pack([eu, plain], true, (s) => s.region === 'weur').flat();
    expect(messages).toEqual([{ v: 1, tasks: [plain], recorded: true }, { v: 1, refs: [eu.id] }]);
    expect(JSON.stringify(messages)).not.toContain('eu-only');
    const result = await run(messages);
    expect(result.explicitAcks.sort()).toEqual(['m0', 'm1']);
    expect(await env.QUEUES.getByName('eu:bus-eu').get(eu.id)).not.toBeNull();
    expect(await env.QUEUES.getByName('bus-eu').get(eu.id)).toBeNull();
    expect(await env.QUEUES.getByName('bus-eu').get(plain.id)).not.toBeNull();
    // A weur claim through the EU object gets both, the EU task with its args read back from the EU's D1.
    const req = { queue: 'bus-eu', worker: 'w', region: 'weur', tasks: null, max: 1, leaseSeconds: null, owner: null };
    const jobs = [...(await env.QUEUES.getByName('eu:bus-eu').claim(req, 0)), ...(await env.QUEUES.getByName('eu:bus-eu').claim(req, 0))];
    expect(jobs.find((j) => j.id === eu.id)?.args).toBe(eu.args);
    expect(jobs.map((j) => j.id).sort()).toEqual([eu.id, plain.id].sort());
  });
});

describe('packing', () => {
  it('fits messages and sendBatch calls under the bus limits', () => {
    const specs = Array.from({ length: 1000 }, () => taskSpec({ queue: 'p', args: JSON.stringify(['x'.repeat(2000)]) }));
    const batches = pack(specs, true);
    let count = 0;
    for (const batch of batches) {
      expect(batch.length).toBeLessThanOrEqual(100);
      const bytes = batch.reduce((n, m) => n + JSON.stringify(m).length, 0);
      expect(bytes).toBeLessThan(288_000);
      for (const m of batch) {
        expect(JSON.stringify(m).length).toBeLessThan(128_000);
        if ('tasks' in m) count += m.tasks.length;
      }
    }
    expect(count).toBe(1000);
  });

  it('packs by UTF-8 bytes: no message is over the bus\'s 128 KB, whatever the text, and few tasks read back at once', async () => {
    // 30,000 characters of three bytes: 90 KB each, though 30,000 long as a string.
    const cjk = Array.from({ length: 20 }, () => taskSpec({ queue: 'bus-e', args: JSON.stringify(['页'.repeat(30_000)]) }));
    const large = Array.from({ length: 200 }, () => taskSpec({ queue: 'bus-e', args: JSON.stringify(['页'.repeat(45_000)]) }));
    const messages = pack([...cjk, ...large], true).flat();
    const encoder = new TextEncoder();
    for (const m of messages) expect(encoder.encode(JSON.stringify(m)).byteLength).toBeLessThanOrEqual(128_000);
    const refs = messages.flatMap((m) => ('refs' in m ? [m.refs.length] : []));
    expect(refs.reduce((a, b) => a + b, 0)).toBe(200);
    expect(Math.max(...refs)).toBeLessThanOrEqual(64);
    expect(messages.flatMap((m) => ('tasks' in m ? m.tasks : [])).length).toBe(20);
  });
});
