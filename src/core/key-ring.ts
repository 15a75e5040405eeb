// Which rate keys a claim may look at: a ring of open keys per lane, heaps of keys waiting for budget, a set of keys at their concurrency.
import { baseLane, keyOfLane } from './states.ts';

/** One entry of a ring: rings are linked lists, so moving a key to the tail or taking it out is O(1). */
interface Node {
  key: string;
  prev: Node | null;
  next: Node | null;
}

/** The open keys of one base lane, in round-robin order: a claim takes from the head and puts back at the tail. */
class Ring {
  private readonly nodes = new Map<string, Node>();
  private head: Node | null = null;
  private tail: Node | null = null;

  get size(): number {
    return this.nodes.size;
  }

  has(key: string): boolean {
    return this.nodes.has(key);
  }

  get first(): string | null {
    return this.head?.key ?? null;
  }

  push(key: string): void {
    if (this.nodes.has(key)) return;
    const node: Node = { key, prev: this.tail, next: null };
    if (this.tail) this.tail.next = node;
    else this.head = node;
    this.tail = node;
    this.nodes.set(key, node);
  }

  remove(key: string): void {
    const node = this.nodes.get(key);
    if (!node) return;
    if (node.prev) node.prev.next = node.next;
    else this.head = node.next;
    if (node.next) node.next.prev = node.prev;
    else this.tail = node.prev;
    this.nodes.delete(key);
  }

  /** The key had its turn: it goes last. */
  toTail(key: string): void {
    this.remove(key);
    this.push(key);
  }
}

/** A binary min-heap of [when, key]. */
class Heap {
  private readonly items: [number, string][] = [];

  get size(): number {
    return this.items.length;
  }

  peek(): [number, string] | undefined {
    return this.items[0];
  }

  push(item: [number, string]): void {
    const a = this.items;
    a.push(item);
    for (let i = a.length - 1; i > 0; ) {
      const up = (i - 1) >> 1;
      if (a[up][0] <= a[i][0]) break;
      [a[up], a[i]] = [a[i], a[up]];
      i = up;
    }
  }

  pop(): [number, string] | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length === 0 || last === undefined) return top;
    a[0] = last;
    for (let i = 0; ; ) {
      const l = 2 * i + 1;
      const r = l + 1;
      let min = i;
      if (l < a.length && a[l][0] < a[min][0]) min = l;
      if (r < a.length && a[r][0] < a[min][0]) min = r;
      if (min === i) break;
      [a[min], a[i]] = [a[i], a[min]];
      i = min;
    }
    return top;
  }
}

/**
 * The keys with ready tasks, and which of them a claim may look at. A key is OPEN (in the ring
 * of each base lane where it has ready tasks), PARKED (no budget until a known time: rate,
 * pause) or FULL (at its concurrency until a lease of it ends). A claim walks only open keys of
 * its own lanes, so keys without budget, and other regions' keys, cost it nothing; parking and
 * waking a key is O(log n). Pure: the caller says what a key's budget is, and when.
 */
export class KeyRing {
  /** Keys with ready tasks, each with the lanes that hold them. */
  private readonly lanes = new Map<string, Set<string>>();
  private readonly rings = new Map<string, Ring>();
  /**
   * Parked keys and when they have budget again, with a heap per base lane (so a claim hears of
   * its own lanes' keys only); a heap may hold a key's older times, or a key another heap woke: skipped.
   */
  private readonly parked = new Map<string, number>();
  private readonly heaps = new Map<string, Heap>();
  private readonly full = new Set<string>();
  /** Keys walks have handed out since the ring was made: a test sees what a claim touched. */
  visited = 0;

  /** Lanes that gained ready tasks: their keys, unless parked or full, are open there. */
  readied(lanes: Iterable<string>): void {
    for (const lane of lanes) {
      const key = keyOfLane(lane);
      if (key === null) continue;
      let set = this.lanes.get(key);
      if (!set) this.lanes.set(key, (set = new Set()));
      const base = baseLane(lane);
      const newBase = ![...set].some((l) => baseLane(l) === base);
      set.add(lane);
      if (this.isOpen(key)) this.ring(base).push(key);
      else if (newBase && this.parked.has(key)) this.heap(base).push([this.parked.get(key)!, key]);
    }
  }

  /** These lanes of `key` have no ready task left. Answers whether the key has none left at all (then it is forgotten). */
  drained(key: string, lanes: string[]): boolean {
    const set = this.lanes.get(key);
    if (!set) return true;
    for (const lane of lanes) set.delete(lane);
    const bases = new Set([...set].map(baseLane));
    for (const lane of lanes) if (!bases.has(baseLane(lane))) this.rings.get(baseLane(lane))?.remove(key);
    if (set.size !== 0) return false;
    this.lanes.delete(key);
    this.parked.delete(key);
    this.full.delete(key);
    return true;
  }

  has(key: string): boolean {
    return this.lanes.has(key);
  }

  /** `key` has no budget until `until` (ms): out of the rings until then. Only keys with ready tasks are kept. */
  park(key: string, until: number): void {
    if (!this.lanes.has(key)) return;
    this.close(key);
    this.full.delete(key);
    this.parked.set(key, until);
    for (const base of this.basesOf(key)) this.heap(base).push([until, key]);
  }

  /** `key` is at its concurrency: out of the rings until `freed`. */
  fill(key: string): void {
    if (!this.lanes.has(key)) return;
    this.close(key);
    this.parked.delete(key);
    this.full.add(key);
  }

  /** A lease of `key` ended: if it was full, it is open again (its next turn looks at its budget); answers the base lanes it opened in. */
  freed(key: string): Set<string> {
    return this.full.delete(key) ? this.open(key) : new Set();
  }

  /** Parked keys whose time has come are open again; answers the base lanes that regained keys. */
  reopenDue(now: number): Set<string> {
    const bases = new Set<string>();
    for (const [base, heap] of this.heaps) {
      for (let top = heap.peek(); top && top[0] <= now; top = heap.peek()) {
        heap.pop();
        const [at, key] = top;
        if (this.parked.get(key) !== at) continue;
        this.parked.delete(key);
        for (const b of this.open(key)) bases.add(b);
      }
      if (heap.size === 0) this.heaps.delete(base);
    }
    return bases;
  }

  /** When the first key parked in the base lanes `bases` (all: omitted) has budget again (ms), or null when none is parked. */
  nextDue(bases?: string[]): number | null {
    let due: number | null = null;
    for (const base of bases ? new Set(bases) : this.heaps.keys()) {
      const heap = this.heaps.get(base);
      if (!heap) continue;
      for (let top = heap.peek(); top; top = heap.peek()) {
        if (this.parked.get(top[1]) === top[0]) {
          if (due === null || top[0] < due) due = top[0];
          break;
        }
        heap.pop();
      }
    }
    return due;
  }

  /** Every parked and full key is open again: their limits changed. */
  reopenAll(): void {
    const keys = [...this.parked.keys(), ...this.full];
    this.parked.clear();
    this.heaps.clear();
    this.full.clear();
    for (const key of keys) this.open(key);
  }

  /** How many open keys the rings of `bases` hold (a key in two counts twice). */
  openIn(bases: string[]): number {
    let n = 0;
    for (const base of new Set(bases)) n += this.rings.get(base)?.size ?? 0;
    return n;
  }

  /** Base lanes with open keys: the consumers to wake when keys may run again. */
  openBaseLanes(): Set<string> {
    const bases = new Set<string>();
    for (const [base, ring] of this.rings) if (ring.size) bases.add(base);
    return bases;
  }

  /**
   * The open keys of the base lanes `bases`, each with its ready lanes among them, from the rings'
   * heads (taking from each ring in turn), each key once, until every ring has gone round once.
   * A key handed out goes to its rings' tails: the next claim starts with the keys after it.
   */
  *walk(bases: string[]): Generator<{ key: string; lanes: string[] }> {
    const wanted = new Set(bases);
    const rings = [...wanted].map((b) => this.rings.get(b)).filter((r): r is Ring => !!r && r.size > 0);
    const left = rings.map((r) => r.size);
    const seen = new Set<string>();
    for (let more = true; more; ) {
      more = false;
      for (let i = 0; i < rings.length; i++) {
        const key = left[i] > 0 ? rings[i].first : null;
        if (key === null) continue;
        left[i]--;
        more = true;
        rings[i].toTail(key);
        if (seen.has(key)) continue;
        seen.add(key);
        this.visited++;
        const lanes = [...this.lanes.get(key)!].filter((l) => wanted.has(baseLane(l)));
        // Its rings' tails, all of them: the key had its turn in every lane of this claim.
        for (const l of lanes) this.rings.get(baseLane(l))?.toTail(key);
        yield { key, lanes };
      }
    }
  }

  private isOpen(key: string): boolean {
    return !this.parked.has(key) && !this.full.has(key);
  }

  private heap(base: string): Heap {
    let heap = this.heaps.get(base);
    if (!heap) this.heaps.set(base, (heap = new Heap()));
    return heap;
  }

  private basesOf(key: string): Set<string> {
    return new Set([...(this.lanes.get(key) ?? [])].map(baseLane));
  }

  private ring(base: string): Ring {
    let ring = this.rings.get(base);
    if (!ring) this.rings.set(base, (ring = new Ring()));
    return ring;
  }

  /** Into the rings of its lanes; answers those base lanes. */
  private open(key: string): Set<string> {
    const bases = this.basesOf(key);
    for (const base of bases) this.ring(base).push(key);
    return bases;
  }

  private close(key: string): void {
    for (const base of this.basesOf(key)) {
      const ring = this.rings.get(base);
      ring?.remove(key);
      if (ring && ring.size === 0) this.rings.delete(base);
    }
  }
}
