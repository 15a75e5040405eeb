// The ring of recent events: each event's id (`<epoch>-<sequence>`), and what a reconnecting subscriber missed.

/** Events held for resuming at most (the contract's number). */
export const RING_EVENTS = 10_000;
/** How long an event is held for resuming at most (the contract's time). */
export const RING_MS = 10 * 60_000;
/**
 * The ring's memory at most (two bytes per UTF-16 unit, the most a string takes). An event is
 * about 200 characters, so 10,000 take some 4 MB; but its names are the clients' (up to 200
 * characters each), and a Durable Object has 128 MB for everything it holds, each resume's copy
 * included. A resume writes up to this much into the stream at once: a stream, not an RPC answer,
 * so the 32 MiB RPC limit does not bind it.
 */
export const RING_BYTES = 8 * 1024 * 1024;
/** The longest id a client may send back; anything longer is no id of ours. */
const MAX_ID_LENGTH = 64;

interface Held {
  seq: number;
  at: number;
  text: string;
}

/** What a subscriber that sends a last id gets first: the events after it, or a reset. */
export type Catchup = { ok: true; text: string } | { ok: false };

export class EventRing {
  /** Random per object start: ids from before a restart are known to be another epoch's. */
  readonly epoch: string;
  private next = 1;
  /** Every event from this sequence on is held (or not made yet): a last id just before it resumes. */
  private heldFrom = 1;
  private readonly held: Held[] = [];
  private start = 0;
  private bytes = 0;

  constructor(private readonly now: () => number = Date.now) {
    const random = crypto.getRandomValues(new Uint8Array(6));
    this.epoch = Array.from(random, (b) => b.toString(16).padStart(2, '0')).join('');
  }

  /** Gives the event its id and holds it; answers its text for the stream. */
  add(kind: string, data: unknown): string {
    const seq = this.next++;
    // The event line first, as before ids: clients that read a block by its first line keep working.
    const text = `event: ${kind}\nid: ${this.epoch}-${seq}\ndata: ${JSON.stringify(data)}\n\n`;
    this.held.push({ seq, at: this.now(), text });
    this.bytes += text.length * 2;
    this.trim();
    return text;
  }

  /**
   * Events may have gone unpublished up to now (nobody listened, and queues stopped publishing):
   * no id given so far can resume without a hole, so every one of them gets a reset; the next
   * event's id is the first that resumes.
   */
  breakHere(): void {
    this.held.splice(0);
    this.start = 0;
    this.bytes = 0;
    this.heldFrom = this.next + 1;
  }

  /** What follows `lastId`: every held event after it, or a reset when the id is not one this ring can resume from. */
  after(lastId: string): Catchup {
    this.trim();
    if (lastId.length > MAX_ID_LENGTH) return { ok: false };
    const match = /^([0-9a-f]+)-(0|[1-9][0-9]{0,15})$/.exec(lastId);
    if (!match || match[1] !== this.epoch) return { ok: false };
    const seq = Number(match[2]);
    // Before what is held (its next event is gone), or an id not given yet.
    if (seq < this.heldFrom - 1 || seq >= this.next) return { ok: false };
    const live = this.held.slice(this.start);
    const from = live.findIndex((e) => e.seq > seq);
    return { ok: true, text: from < 0 ? '' : live.slice(from).map((e) => e.text).join('') };
  }

  /** Drops the oldest events past the count, age or byte bounds. */
  private trim(): void {
    const oldest = this.now() - RING_MS;
    while (this.start < this.held.length) {
      const e = this.held[this.start];
      const count = this.held.length - this.start;
      if (count <= RING_EVENTS && this.bytes <= RING_BYTES && e.at > oldest) break;
      this.bytes -= e.text.length * 2;
      this.heldFrom = e.seq + 1;
      this.start++;
    }
    // Compact now and then rather than shift() per event (O(n) each).
    if (this.start > 1024 && this.start * 2 > this.held.length) {
      this.held.splice(0, this.start);
      this.start = 0;
    }
  }
}
