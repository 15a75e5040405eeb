// Task ids: ULIDs the hub makes (time-ordered, monotonic within an isolate), or a UUID or ULID a
// client chose (Celery's task ids are UUIDs: a Celery task keeps its id on drover).

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
export const ULID_PATTERN = /^[0-9A-HJKMNP-TV-Z]{26}$/;
const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
/** 128 bits in 26 base-32 characters: the first carries 3 of them. */
const ULID = '[0-7][0-9A-HJKMNP-TV-Z]{25}';

/** A task id as a client may write it: a ULID or a UUID, in either case (taskId gives the form the hub keeps). */
export const TASK_ID_PATTERN_ANY_CASE = new RegExp(`^(?:${ULID}|${UUID})$`, 'i');

/** A task list's cursor: the creation time (ms) and id of the last task of the page before. */
export const LIST_CURSOR = new RegExp(`^(\\d{1,15})\\.([0-9A-HJKMNP-TV-Z]{26}|${UUID})$`);

/** A task id as the hub keeps it: a UUID in lowercase, a ULID in uppercase, whichever case it came in. */
export function taskId(id: string): string {
  return id.length === 36 ? id.toLowerCase() : id.toUpperCase();
}

let lastTime = -1;
const lastRandom = new Uint8Array(10);

function encodeTime(ms: number): string {
  let out = '';
  for (let i = 9; i >= 0; i--) {
    const mod = ms % 32;
    out = ALPHABET[mod] + out;
    ms = (ms - mod) / 32;
  }
  return out;
}

function encodeRandom(bytes: Uint8Array): string {
  // 80 bits as 16 base-32 characters.
  let out = '';
  let bits = 0;
  let value = 0;
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  return out;
}

/** When a ULID says it was made (its first 10 characters, ms since the epoch); null for a UUID or a malformed id. */
export function ulidTime(id: string): number | null {
  if (!ULID_PATTERN.test(id)) return null;
  let ms = 0;
  for (let i = 0; i < 10; i++) ms = ms * 32 + ALPHABET.indexOf(id[i]);
  return ms;
}

/** A new id; ids made in the same millisecond by one isolate sort in creation order. */
export function newTaskId(now: number = Date.now()): string {
  if (now <= lastTime) {
    // Same millisecond (or a clock step back): increment the random part.
    for (let i = lastRandom.length - 1; i >= 0; i--) {
      if (lastRandom[i] < 255) {
        lastRandom[i]++;
        break;
      }
      lastRandom[i] = 0;
    }
    now = lastTime;
  } else {
    crypto.getRandomValues(lastRandom);
    lastRandom[0] &= 0x7f; // headroom for increments within one millisecond
    lastTime = now;
  }
  return encodeTime(now) + encodeRandom(lastRandom);
}

/**
 * A lease id is object.taskId.nonce: the object's name (its queue's, with `~i` for shard i > 0, `eu:` in front in a jurisdiction)
 * routes a call to it, the task id finds the row.
 */
export const LEASE_ID = new RegExp(`^((?:(?:eu|fedramp):)?[a-z0-9_-]{1,64}(?:~[1-9][0-9]?)?)\\.([0-9A-HJKMNP-TV-Z]{26}|${UUID})\\.([0-9a-f]{24})$`);

/** The task a lease id names (its row is found by primary key), or '' for a malformed id. */
export function taskOfLease(leaseId: string): string {
  return LEASE_ID.exec(leaseId)?.[2] ?? '';
}
