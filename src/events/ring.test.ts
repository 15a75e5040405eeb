// The ring of recent events, with an injected clock: ids, resuming after an id, and resets.
import { describe, expect, it } from 'vitest';
import { EventRing, RING_BYTES, RING_EVENTS, RING_MS } from './ring.ts';

const idsOf = (text: string) => [...text.matchAll(/^id: (.+)$/gm)].map((m) => m[1]);

describe('the event ring', () => {
  it('gives each event an id of its epoch, counting up by one', () => {
    const ring = new EventRing(() => 0);
    const ids = [ring.add('task', { n: 1 }), ring.add('worker', { n: 2 }), ring.add('task', { n: 3 })].flatMap(idsOf);
    expect(ids).toEqual([`${ring.epoch}-1`, `${ring.epoch}-2`, `${ring.epoch}-3`]);
    expect(ring.add('task', { n: 4 })).toBe(`event: task\nid: ${ring.epoch}-4\ndata: {"n":4}\n\n`);
    expect(new EventRing().epoch).not.toBe(ring.epoch);
  });

  it('answers every held event after an id, and nothing after the latest', () => {
    const ring = new EventRing(() => 0);
    for (let i = 1; i <= 5; i++) ring.add('task', { i });
    const after2 = ring.after(`${ring.epoch}-2`);
    expect(after2.ok && idsOf(after2.text)).toEqual([3, 4, 5].map((s) => `${ring.epoch}-${s}`));
    expect(ring.after(`${ring.epoch}-5`)).toEqual({ ok: true, text: '' });
  });

  it('resets an id of another epoch, one not given yet, and one that is no id', () => {
    const ring = new EventRing(() => 0);
    ring.add('task', {});
    for (const id of ['abcdef012345-1', `${ring.epoch}-2`, `${ring.epoch}-99`, 'nonsense', `${ring.epoch}-01`, `${ring.epoch}-1`.padEnd(100, '0'), '']) {
      expect(ring.after(id)).toEqual({ ok: false });
    }
  });

  it(`holds ${RING_EVENTS} events at most: an id whose next event is gone resets`, () => {
    const ring = new EventRing(() => 0);
    for (let i = 0; i < RING_EVENTS + 10; i++) ring.add('task', { i });
    expect(ring.after(`${ring.epoch}-9`)).toEqual({ ok: false });
    const from10 = ring.after(`${ring.epoch}-10`);
    expect(from10.ok && idsOf(from10.text).length).toBe(RING_EVENTS);
  });

  it('holds events for ten minutes at most', () => {
    let now = 0;
    const ring = new EventRing(() => now);
    ring.add('task', { old: true });
    now = 1000;
    ring.add('task', { old: false });
    now = RING_MS + 500;
    const after = ring.after(`${ring.epoch}-1`);
    expect(after.ok && idsOf(after.text)).toEqual([`${ring.epoch}-2`]);
    now = RING_MS + 1000;
    expect(ring.after(`${ring.epoch}-1`)).toEqual({ ok: false });
    expect(ring.after(`${ring.epoch}-2`)).toEqual({ ok: true, text: '' });
  });

  it('holds a bounded number of bytes, however large the events', () => {
    const ring = new EventRing(() => 0);
    const big = 'x'.repeat(1024 * 1024);
    const count = Math.ceil(RING_BYTES / (2 * big.length)) + 5;
    for (let i = 0; i < count; i++) ring.add('task', { big });
    const all = ring.after(`${ring.epoch}-${count - 3}`);
    expect(all.ok && idsOf(all.text).length).toBe(3);
    expect(ring.after(`${ring.epoch}-1`)).toEqual({ ok: false });
    // What is held fits the bound.
    let lowest = count;
    while (lowest > 0 && ring.after(`${ring.epoch}-${lowest - 1}`).ok) lowest--;
    const held = ring.after(`${ring.epoch}-${lowest}`);
    expect(held.ok && held.text.length * 2).toBeLessThanOrEqual(RING_BYTES);
  });

  it('after a break, resets every id given before it and resumes from the next', () => {
    const ring = new EventRing(() => 0);
    ring.add('task', {});
    ring.add('task', {});
    ring.breakHere();
    expect(ring.after(`${ring.epoch}-1`)).toEqual({ ok: false });
    expect(ring.after(`${ring.epoch}-2`)).toEqual({ ok: false });
    ring.add('task', { n: 3 });
    ring.add('task', { n: 4 });
    const after3 = ring.after(`${ring.epoch}-3`);
    expect(after3.ok && idsOf(after3.text)).toEqual([`${ring.epoch}-4`]);
  });
});
