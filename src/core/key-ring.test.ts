// The ring of open rate keys: round-robin order, parked keys back when due, full keys back when freed, and walks that touch only open keys of their lanes.
import { describe, expect, it } from 'vitest';
import { KeyRing } from './key-ring.ts';
import { keyedLane } from './states.ts';

/** A ring with these keys ready in lane '' (or `base`), in this order. */
function ringOf(keys: string[], base = ''): KeyRing {
  const ring = new KeyRing();
  ring.readied(keys.map((k) => keyedLane(base, k)));
  return ring;
}

/** The keys a full walk of `bases` hands out, in order. */
const walk = (ring: KeyRing, bases = ['']) => [...ring.walk(bases)].map((t) => t.key);

/** The first `n` keys of a walk: a claim that wants no more stops there. */
function take(ring: KeyRing, n: number, bases = ['']): string[] {
  const out: string[] = [];
  for (const { key } of ring.walk(bases)) {
    out.push(key);
    if (out.length === n) break;
  }
  return out;
}

describe('the ring of open keys', () => {
  it('hands keys out round-robin: a walk starts after the keys the last one took', () => {
    const ring = ringOf(['a', 'b', 'c', 'd']);
    expect(take(ring, 1)).toEqual(['a']);
    expect(take(ring, 2)).toEqual(['b', 'c']);
    expect(walk(ring)).toEqual(['d', 'a', 'b', 'c']);
    // A key that gains another ready lane keeps its place.
    ring.readied([keyedLane('', 'b')]);
    expect(take(ring, 2)).toEqual(['d', 'a']);
  });

  it('goes round once: each key once per walk, with its ready lanes of the walk\'s lanes', () => {
    const ring = new KeyRing();
    ring.readied([keyedLane('', 'x'), keyedLane('weur', 'x'), keyedLane('weur', 'y'), keyedLane('enam', 'z')]);
    const turns = [...ring.walk(['weur', ''])];
    expect(turns.map((t) => t.key).sort()).toEqual(['x', 'y']);
    expect(turns.find((t) => t.key === 'x')!.lanes.sort()).toEqual([keyedLane('', 'x'), keyedLane('weur', 'x')].sort());
    // Another region's keys are not walked at all.
    expect(ring.visited).toBe(2);
  });

  it('walks only open keys: 900 parked and 50 full cost a walk nothing', () => {
    const keys = Array.from({ length: 1000 }, (_, i) => `k${i}`);
    const ring = ringOf(keys);
    keys.slice(0, 900).forEach((k) => ring.park(k, 5000));
    keys.slice(900, 950).forEach((k) => ring.fill(k));
    const before = ring.visited;
    expect(take(ring, 10)).toEqual(keys.slice(950, 960));
    expect(ring.visited - before).toBe(10);
    expect(walk(ring)).toHaveLength(50);
    expect(ring.openIn([''])).toBe(50);
  });

  it('brings parked keys back when due, in the order they come due, and says when the next is', () => {
    const ring = ringOf(['a', 'b', 'c']);
    ring.park('b', 300);
    ring.park('a', 200);
    expect(walk(ring)).toEqual(['c']);
    expect(ring.nextDue()).toBe(200);
    expect(ring.reopenDue(199)).toEqual(new Set());
    expect(ring.reopenDue(250)).toEqual(new Set(['']));
    expect(walk(ring)).toEqual(['c', 'a']);
    expect(ring.nextDue()).toBe(300);
    ring.reopenDue(300);
    expect(walk(ring)).toEqual(['c', 'a', 'b']);
    expect(ring.nextDue()).toBeNull();
  });

  it('tells a claim when its own lanes\' keys are due, not other lanes\'', () => {
    const ring = new KeyRing();
    ring.readied([keyedLane('weur', 'w'), keyedLane('', 'x'), keyedLane('enam', 'e')]);
    ring.park('e', 100);
    ring.park('x', 300);
    ring.park('w', 200);
    expect(ring.nextDue(['weur', ''])).toBe(200);
    expect(ring.nextDue([''])).toBe(300);
    expect(ring.nextDue()).toBe(100);
    // A parked key that gains a lane elsewhere is due there too.
    ring.readied([keyedLane('', 'e')]);
    expect(ring.nextDue([''])).toBe(100);
    expect(ring.reopenDue(100)).toEqual(new Set(['enam', '']));
    expect(ring.nextDue([''])).toBe(300);
    expect(walk(ring, ['weur', ''])).toEqual(['e']);
  });

  it('keeps the latest time a key is parked to (a longer pause), and forgets drained keys', () => {
    const ring = ringOf(['a', 'b']);
    ring.park('a', 100);
    ring.park('a', 500);
    ring.reopenDue(200);
    expect(walk(ring)).toEqual(['b']);
    expect(ring.nextDue()).toBe(500);
    // A parked key whose tasks went away is not brought back.
    expect(ring.drained('a', [keyedLane('', 'a')])).toBe(true);
    expect(ring.has('a')).toBe(false);
    expect(ring.nextDue()).toBeNull();
    ring.reopenDue(1000);
    expect(walk(ring)).toEqual(['b']);
    // Ready again: open again.
    ring.readied([keyedLane('', 'a')]);
    expect(walk(ring)).toEqual(['b', 'a']);
  });

  it('brings a full key back when a lease of it ends, and a parked one only when due', () => {
    const ring = ringOf(['a', 'b']);
    ring.fill('a');
    ring.park('b', 100);
    ring.freed('b');
    expect(walk(ring)).toEqual([]);
    ring.freed('a');
    expect(walk(ring)).toEqual(['a']);
    // A key parked or full while it gains ready tasks stays out until its time.
    ring.readied([keyedLane('', 'b')]);
    expect(walk(ring)).toEqual(['a']);
  });

  it('drops a key from a lane\'s ring once that lane has no ready task of it', () => {
    const ring = new KeyRing();
    ring.readied([keyedLane('', 'x'), keyedLane('weur', 'x')]);
    expect(ring.drained('x', [keyedLane('weur', 'x')])).toBe(false);
    expect(walk(ring, ['weur'])).toEqual([]);
    expect(walk(ring, [''])).toEqual(['x']);
    expect(ring.openBaseLanes()).toEqual(new Set(['']));
  });

  it('opens every parked and full key when limits change', () => {
    const ring = ringOf(['a', 'b', 'c']);
    ring.park('a', 1000);
    ring.fill('b');
    ring.reopenAll();
    expect(walk(ring).sort()).toEqual(['a', 'b', 'c']);
    expect(ring.nextDue()).toBeNull();
  });
});
