// The events object's answer to publishing queues: listeners now, and for LINGER_MS after the last one left.
import { env, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { LINGER_MS, type EventsObject, type TaskEvent } from './EventsObject.ts';

const event = (id: string): TaskEvent => ({ id, task: 't', queue: 'q', region: null, state: 'queued', attempts: 0, worker: null, at: new Date().toISOString() });

describe('publishing', () => {
  it('counts a listener that left for five minutes, so queues keep publishing for its return', async () => {
    await runInDurableObject(env.EVENTS.getByName('linger-test'), async (instance: EventsObject) => {
      expect(await instance.publish([event('a')], [])).toBe(0);
      const res = await instance.fetch(new Request('http://hub/v1/events'));
      // A client reading along (a write waits until it is read).
      const reader = res.body!.getReader();
      let text = '';
      const reading = (async () => {
        for (let r = await reader.read(); !r.done; r = await reader.read()) text += new TextDecoder().decode(r.value);
      })().catch(() => {});
      expect(await instance.publish([event('b')], [])).toBe(1);
      expect(text).toContain('"id":"b"');
      await reader.cancel();
      await reading;
      // The next write finds the listener gone; it still counts, for LINGER_MS.
      expect(await instance.publish([event('c')], [])).toBe(1);
      const own = instance as unknown as { listenedAt: number };
      own.listenedAt = Date.now() - LINGER_MS + 1000;
      expect(await instance.publish([event('d')], [])).toBe(1);
      own.listenedAt = Date.now() - LINGER_MS;
      expect(await instance.publish([event('e')], [])).toBe(0);
    });
  });
});
