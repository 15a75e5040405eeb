// A claim: the next tasks of the worker's lanes in claim order, leased to it.
import { mergeLanes } from '../../core/claim-order.ts';
import { laneOf } from '../../core/states.ts';
import { type Step, described, earlier, finish } from './step.ts';
import { type Candidate, claimKey, type KeyTurn } from './claim-keys.ts';
import { promoteDue } from './timers.ts';
import { limitOf } from '../../db/sql.ts';

export interface ClaimRequest {
  queue: string;
  worker: string;
  region: string | null;
  tasks: string[] | null;
  max: number;
  leaseSeconds: number | null;
  /** Who may later heartbeat, ack or fail the leases (a token's fingerprint). */
  owner: string | null;
  /** Runners of HTTP tasks claim their lanes ("http:", "http:<region>") instead of a worker's. */
  http?: boolean;
  /** Rate-limited task names this claim may take, and how many of each (their tokens now). */
  named?: { task: string; max: number }[];
  /** The worker socket that sent the claim: a waiting claim ends empty once cancelClaims names it. */
  socket?: string;
  /** From a worker socket attached to one shard (it holds one per shard): take from this shard only, no sibling's. */
  shardOnly?: boolean;
  /**
   * Rate keys with budget and ready tasks, in round-robin order, pulled one at a time as the claim
   * needs them (src/queue/keys.ts `turns`): keys past those it takes from are not looked at. Absent: no keyed work.
   */
  keyTurns?: Iterator<KeyTurn>;
}

export type { KeyTurn };

export interface ClaimedRow {
  id: string;
  task: string;
  args: string;
  kwargs: string;
  lane: string;
  priority: number;
  attempts: number;
  max_retries: number;
  parent_id: string | null;
  root_id: string | null;
  lease_id: string;
  lease_expires_at: number;
  /** JSON of the request, for an HTTP task. */
  http: string | null;
  timeout: number;
  /** JSON of the producer's headers (an object), or null for none. */
  headers: string | null;
  /** When the task was due (ms), as enqueued; null: at once. */
  eta: number | null;
  workflow_id: string | null;
}

/**
 * claim: leases up to `max` ready tasks to one worker.
 * Guarantee: a task tagged R goes only to a claim of region R; order is priority,
 * then ready time, then enqueue order; each lane is read by an index walk of at most
 * `max` rows, so the cost does not grow with the backlog. Tasks with a rate key are taken
 * round-robin across the keys `keyTurns` gives (the tasks of no key take one turn), each key
 * at most its budget; turns are pulled only while the claim wants more, so it reads the
 * lanes of the keys it takes from and no others.
 */
export function claim(s: Step, req: ClaimRequest): ClaimedRow[] {
  promoteDue(s, 1000);
  const source = req.keyTurns;
  if (!source) return claimPlain(s, req, req.max, new Map());
  const pull = (): KeyTurn | null => {
    const next = source.next();
    return next.done ? null : next.value;
  };
  // A turn per task wanted, at most: each turn pulled gets a share of the claim.
  const turns: KeyTurn[] = [];
  for (let turn = pull(); turn; turn = turns.length < req.max ? pull() : null) turns.push(turn);
  // Each turn gets one task of the claim's `max` at a time, up to its budget.
  const shares = turns.map(() => 0);
  for (let left = req.max, more = true; left > 0 && more; ) {
    more = false;
    turns.forEach((turn, i) => {
      if (left > 0 && shares[i] < turn.max) {
        shares[i]++;
        left--;
        more = true;
      }
    });
  }
  const takenByName = new Map<string, number>();
  const out: ClaimedRow[] = [];
  const got = turns.map(() => 0);
  const take = (i: number, n: number) => {
    const rows = claimTurn(s, req, turns[i], n, takenByName);
    got[i] += rows.length;
    out.push(...rows);
    return rows.length;
  };
  const short = turns.map((_, i) => shares[i] > 0 && take(i, shares[i]) < shares[i]);
  // A turn that had fewer tasks than its share leaves the rest to the others that may take more.
  turns.forEach((turn, i) => {
    const n = Math.min(req.max - out.length, turn.max - got[i]);
    if (n > 0 && !short[i]) take(i, n);
  });
  // Still short: the keys after those pulled, until the claim is full or every key had its turn.
  if (out.length < req.max) out.push(...claimRest(s, req, pull, req.max - out.length, takenByName));
  return out;
}

/** Up to `n` tasks from the turns `pull` gives, each turn what its budget allows. */
function claimRest(s: Step, req: ClaimRequest, pull: () => KeyTurn | null, n: number, takenByName: Map<string, number>): ClaimedRow[] {
  const out: ClaimedRow[] = [];
  for (let turn = pull(); turn && out.length < n; turn = out.length < n ? pull() : null) {
    out.push(...claimTurn(s, req, turn, Math.min(n - out.length, turn.max), takenByName));
  }
  return out;
}

function claimTurn(s: Step, req: ClaimRequest, turn: KeyTurn, n: number, takenByName: Map<string, number>): ClaimedRow[] {
  return turn.key === null ? claimPlain(s, req, n, takenByName) : leaseIds(s, req, claimKey(s, req, turn as KeyTurn & { key: string }, n, takenByName));
}

function claimPlain(s: Step, req: ClaimRequest, max: number, takenByName: Map<string, number>): ClaimedRow[] {
  req = { ...req, max };
  const regions = req.region ? [req.region, null] : [null];
  const filter = req.tasks?.length ? ` AND task IN (${req.tasks.map(() => '?').join(', ')})` : '';
  // The plain lanes of the claim's regions, then each rate-limited name's lanes, capped by its tokens.
  const lanes: { lane: string; cap: number; name?: string }[] = regions.map((r) => ({ lane: laneOf(r, !!req.http), cap: Infinity }));
  if (!req.http) {
    for (const n of req.named ?? []) {
      if (req.tasks && !req.tasks.includes(n.task)) continue;
      for (const r of regions) lanes.push({ lane: laneOf(r, false, n.task), cap: n.max, name: n.task });
    }
  }
  if (lanes.length === 1 && s.expiresFrom !== undefined && (s.expiresFrom === null || s.expiresFrom > s.now)) return leaseFirst(s, req, lanes[0].lane, filter);
  // A region's worker reads its region's lane and the untagged one: none when both are known empty.
  const plain = lanes.every((l) => !l.name);
  const names = namesOf(req);
  if (plain && lanes.every(({ lane }) => s.emptyLanes?.has(lane, names))) return [];
  const out: ClaimedRow[] = [];
  let drained = false;
  for (let round = 0; round < 20 && out.length < req.max; round++) {
    const need = req.max - out.length;
    // A lane that gave fewer rows than asked has none left; when every lane did and all were
    // picked, another round would only read nothing again.
    let exhausted = true;
    const candidates = lanes.map(({ lane, cap, name }): Candidate[] => {
      const limit = Math.min(need, name ? cap - (takenByName.get(name) ?? 0) : need);
      if (limit <= 0) {
        exhausted = false;
        return [];
      }
      const rows = s.sql
        .all<{ id: string; priority: number; ready_at: number; expires_at: number | null; lane: string; attempts: number }>(
          `SELECT id, priority, ready_at, expires_at, lane, attempts FROM tasks WHERE phase = 'ready' AND lane = +?${name ? '' : filter}
           ORDER BY priority DESC, ready_at, id LIMIT ${limitOf(limit)}`,
          lane,
          ...(name ? [] : (req.tasks ?? [])),
        )
        .map((c) => ({ id: c.id, priority: c.priority, readyAt: c.ready_at, expires_at: c.expires_at, attempts: c.attempts, name }));
      if (rows.length >= limit) exhausted = false;
      return rows;
    });
    const picked: Candidate[] = [];
    for (const c of mergeLanes(candidates, need + lanes.length * need)) {
      if (picked.length >= need) break;
      if (c.name) {
        const taken = takenByName.get(c.name) ?? 0;
        if (taken >= (lanes.find((l) => l.name === c.name)?.cap ?? 0)) continue;
        takenByName.set(c.name, taken + 1);
      }
      picked.push(c);
    }
    if (picked.length === 0) {
      drained = true;
      break;
    }
    if (picked.length < candidates.reduce((n, c) => n + c.length, 0)) exhausted = false;
    // Expiry is for tasks never started; a retry of a started one runs whatever the clock says.
    const take: string[] = [];
    for (const c of picked) {
      if (c.expires_at !== null && c.attempts === 0 && c.expires_at <= s.now) {
        finish(s, c.id, 'done', 'expired', { error: { type: 'Expired', message: 'the task expired before it started' } });
        // A finish may make the next task of its ordering key or group ready: look again.
        exhausted = false;
      } else take.push(c.id);
    }
    if (take.length === 0) {
      drained = exhausted;
      if (exhausted) break;
      continue;
    }
    out.push(...leaseIds(s, req, take));
    drained = exhausted;
    if (exhausted) break;
  }
  // Every lane gave fewer than asked and all it gave was taken: none has a ready task left. (The
  // claim is its step's last write, so nothing after it in the step readies one unseen.)
  if (plain && drained) for (const { lane } of lanes) s.emptied.push([lane, names]);
  return out;
}

/** The claim's task names, as EmptyLanes keys them ('' for any). */
function namesOf(req: ClaimRequest): string {
  return req.tasks?.length ? req.tasks.join('\n') : '';
}

/** How a claim leases tasks: each lease id is queue.taskId.<24 random hex digits>. Its parameters: queue, now, lease seconds, owner, worker, now. */
const LEASE = `UPDATE tasks SET phase = 'leased', state = 'running', attempts = attempts + 1,
    lease_id = ? || '.' || id || '.' || lower(hex(randomblob(12))),
    lease_expires_at = ? + CAST(COALESCE(?, timeout) * 1000 AS INTEGER), lease_owner = ?, worker = ?,
    started_at = ?, progress = NULL, version = version + 1`;
const LEASED = `id, task, args, kwargs, lane, priority, attempts, max_retries, parent_id, root_id, lease_id, lease_expires_at, http, timeout,
    headers, eta, workflow_id`;

/** Leases the tasks `ids` to the claim's worker, in one statement; answers them in the order given. */
function leaseIds(s: Step, req: ClaimRequest, ids: string[]): ClaimedRow[] {
  if (ids.length === 0) return [];
  const leased = described(s, () => s.sql.all<ClaimedRow>(
    `${LEASE} WHERE id IN (SELECT value FROM json_each(?)) RETURNING ${LEASED}`,
    req.queue, s.now, req.leaseSeconds, req.owner, req.worker, s.now, JSON.stringify(ids),
  ));
  leasedNow(s, leased);
  // RETURNING comes in no promised order: hand them out in claim order.
  const byId = new Map(leased.map((r) => [r.id, r]));
  return ids.map((id) => byId.get(id)!);
}

/**
 * Leases the first `req.max` ready tasks of one lane in claim order, picked by the same
 * statement: no read before it. Only when no ready task may have expired (a claim ends those it
 * meets, which takes a read first).
 */
function leaseFirst(s: Step, req: ClaimRequest, lane: string, filter: string): ClaimedRow[] {
  // A worker claims again after each task: where the last claim left the lane empty, and no task
  // has been ready there since, the statement would find nothing.
  const names = namesOf(req);
  if (s.emptyLanes?.has(lane, names)) return [];
  // `lane = +?`, not `= ?`: the runtime's SQLite compiles the other form again at every run (src/db/sql.ts).
  // By rowid, which the index holds beside each entry: by id, each row is found twice (id's own index, then the row).
  const leased = described(s, () => s.sql.all<ClaimedRow & { ready_at: number }>(
    `${LEASE} WHERE rowid IN (SELECT rowid FROM tasks WHERE phase = 'ready' AND lane = +?${filter} ORDER BY priority DESC, ready_at, id LIMIT ${limitOf(req.max)})
     RETURNING ${LEASED}, ready_at`,
    req.queue, s.now, req.leaseSeconds, req.owner, req.worker, s.now, lane, ...(req.tasks ?? []),
  ));
  leasedNow(s, leased);
  if (leased.length < req.max) s.emptied.push([lane, names]);
  // RETURNING comes in no promised order: hand them out in claim order. The rows keep their
  // ready_at (a copy of each without it cost a drain's claim a quarter of its own time), which
  // no answer reads: a job's JSON names its fields (jobsJson).
  leased.sort((a, b) => b.priority - a.priority || a.ready_at - b.ready_at || (a.id < b.id ? -1 : 1));
  return leased;
}

/**
 * Lanes a claim of plain lanes (leaseFirst, or a region's two) left without a ready task, by lane and the claim's task
 * names ('' for any): a claim there runs no statement until the lane may have one again. The
 * object keeps them across steps and, after each commit (`settle`), forgets a lane where its step
 * made a task ready, or all of them when the step wrote anything its writes did not describe
 * (step.ts `Wake`): every write that can make a task ready and is described says so (`readied`).
 * A restart starts with none known.
 */
export class EmptyLanes {
  private readonly lanes = new Map<string, Set<string>>();

  has(lane: string, names: string): boolean {
    return this.lanes.get(lane)?.has(names) ?? false;
  }

  clear(): void {
    this.lanes.clear();
  }

  /** After a step committed; `described`: every row it wrote was written by a write that says what it did. */
  settle(s: Step, described: boolean): void {
    if (!described) this.lanes.clear();
    for (const lane of s.readyLanes) this.lanes.delete(lane);
    for (const [lane, names] of s.emptied) {
      if (s.readyLanes.has(lane)) continue;
      const known = this.lanes.get(lane) ?? new Set<string>();
      this.lanes.set(lane, known.add(names));
    }
  }
}

/** What a lease owes after its UPDATE: the alarm's wake at its end, and D1's lazy `running` (no statement: `Step.lazy`). */
function leasedNow(s: Step, leased: ClaimedRow[]): void {
  for (const r of leased) {
    s.wake.at = earlier(s.wake.at, r.lease_expires_at);
    s.touched.add(r.id);
    s.lazy.push([r.id, r.lease_id]);
  }
}
