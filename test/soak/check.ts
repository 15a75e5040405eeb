// The soak's verdict: what it means for a task to have run exactly once, checked against the hub's answers and
// the workers' journals, and every other promise the soak holds the system to.
//
// "Exactly once", as measured here, for every task the hub owes (answered 2xx, a member of a workflow answered
// 2xx, or a task the schedule made):
//   1. the hub reports it final (succeeded, failed, revoked or expired) by the end of the drain: else it is LOST;
//      and its D1 record, the one that stays, says the same state and attempts once the objects' batched writes
//      have landed (a minute at most): else it is NOT IN D1. A final state never changes: read again at the end,
//      the task reads as it did (state, attempts, result);
//   2. across every worker process's journal, the hub accepted at most one ack for it (answered "succeeded" to
//      an ack of one of its leases): two accepted acks are TWO RECORDED SUCCESSES;
//   3. a succeeded soak.work or soak.beat task's recorded result names its own id and an attempt and process
//      that the journals show finishing that task successfully, and the attempt of its accepted ack (if the ack's
//      answer arrived) is that same attempt: else a result was recorded for the WRONG RUN;
//   4. it ended as designed (a doomed task failed, an expiring task expired, a revoked task was revoked):
//      failing with LeaseExpired after worker kills is counted apart, not as a violation.
// A handler may start more than once (at-least-once delivery: a worker killed mid-job, a lease that lapsed while
// the runtime was down): those re-runs are counted and reported, and are not violations.
import type { StorageSample } from './storage.ts';
import type { Ledger, OwedTask } from './ledger.ts';
import type { JournalLine } from './observe.ts';

export interface Violation {
  count: number;
  /** What it means, for the summary. */
  what: string;
  examples: unknown[];
}

export interface Verdict {
  violations: Record<string, Violation>;
  figures: Record<string, unknown>;
}

type Journal = (JournalLine & { w: number })[];

const EXAMPLES = 20;

function violation(what: string, items: unknown[]): Violation {
  return { count: items.length, what, examples: items.slice(0, EXAMPLES) };
}

/** The journals folded per task: claims (lease to attempt), handler runs, successful ends, accepted acks. */
function fold(journal: Journal) {
  const pidOf = new Map<number, number>();
  const leases = new Map<string, { id: string; a: number }>();
  const runs = new Map<string, number>();
  const succeededRuns = new Map<string, { a: number; pid: number }[]>();
  const accepted = new Map<string, { a: number; lease: string; w: number }[]>();
  const workerErrors: unknown[] = [];
  for (const l of journal) if (l.e === 'up') pidOf.set(l.w, l.pid);
  for (const l of journal) if (l.e === 'claim') leases.set(l.lease, { id: l.id, a: l.a });
  for (const l of journal) {
    if (l.e === 'run') runs.set(l.id, (runs.get(l.id) ?? 0) + 1);
    else if (l.e === 'ran' && l.ok) {
      const list = succeededRuns.get(l.id) ?? [];
      list.push({ a: l.a, pid: pidOf.get(l.w) ?? -1 });
      succeededRuns.set(l.id, list);
    } else if (l.e === 'ack' && l.s === 'succeeded') {
      const lease = leases.get(l.lease);
      if (!lease) continue; // its claim's answer was never written: cannot happen, the job came with it
      const list = accepted.get(lease.id) ?? [];
      list.push({ a: lease.a, lease: l.lease, w: l.w });
      accepted.set(lease.id, list);
    } else if (l.e === '5xx') workerErrors.push({ worker: l.w, status: l.status, path: l.path, at: new Date(l.t).toISOString() });
  }
  return { runs, succeededRuns, accepted, workerErrors, leases };
}

/** Journal lines about one task, for the report on a task that went wrong. */
export function linesOf(journal: Journal, id: string, leases: Map<string, { id: string }>): unknown[] {
  return journal
    .filter((l) => ('id' in l && l.id === id) || ('lease' in l && leases.get(l.lease)?.id === id))
    .map((l) => ({ ...l, t: new Date(l.t).toISOString() }));
}

export function judge(input: {
  ledger: Ledger;
  journal: Journal;
  samples: StorageSample[];
  workerCrashes: unknown[];
  /** Final tasks read again at the end that no longer read as they did when first seen final. */
  changedAfterFinal: unknown[];
  /** Final tasks whose D1 record is not final (or not there) a minute after the drain. */
  notInD1: unknown[];
}): Verdict & { folded: ReturnType<typeof fold> } {
  const { ledger, journal } = input;
  const folded = fold(journal);
  const { runs, succeededRuns, accepted } = folded;
  const owed = [...ledger.tasks.values()];

  const lost = owed.filter((t) => !t.end);
  const twice = [...accepted].filter(([id, acks]) => acks.length > 1 && ledger.tasks.has(id)).map(([id, acks]) => ({ id, acks }));
  // Tasks the hub made that the soak never learnt of (an enqueue whose answer a kill cut off) are checked too.
  const twiceUnowed = [...accepted].filter(([id, acks]) => acks.length > 1 && !ledger.tasks.has(id)).map(([id, acks]) => ({ id, acks }));

  const wrongRun: unknown[] = [];
  for (const t of owed) {
    if (t.end?.state !== 'succeeded' || (t.task !== 'soak.work' && t.task !== 'soak.beat')) continue;
    const r = t.end.result as { id?: string; attempt?: number; pid?: number } | null;
    const ok = succeededRuns.get(t.id) ?? [];
    const acks = accepted.get(t.id) ?? [];
    const why =
      r?.id !== t.id ? 'the result names another task'
      : !ok.some((run) => run.a === r.attempt && run.pid === r.pid) ? 'no journaled run of this attempt and process finished successfully'
      : acks.some((a) => a.a !== r.attempt) ? 'the accepted ack was of another attempt'
      : null;
    if (why) wrongRun.push({ id: t.id, why, result: r, succeededRuns: ok, acceptedAcks: acks });
  }

  const wrongEnd: unknown[] = [];
  const leaseExpired: string[] = [];
  for (const t of owed) {
    if (!t.end || t.expect === null || t.end.state === t.expect) continue;
    if (t.expect === 'succeeded' && t.end.state === 'failed' && t.end.error?.type === 'LeaseExpired') leaseExpired.push(t.id);
    else wrongEnd.push({ id: t.id, via: t.via, expected: t.expect, ended: t.end.state, error: t.end.error, attempts: t.end.attempts });
  }

  const badWorkflows: unknown[] = [];
  for (const w of ledger.workflows.values()) {
    if (!w.end) continue;
    const steps = w.end.tasks;
    const why =
      w.end.state === 'succeeded' && JSON.stringify(w.end.result) !== JSON.stringify(w.result) ? `result ${JSON.stringify(w.end.result)?.slice(0, 200)}, not ${JSON.stringify(w.result).slice(0, 200)}`
      : w.end.state === 'succeeded' && steps.length !== w.size ? `${steps.length} tasks, not ${w.size}`
      : w.shape === 'chord' && steps.filter((s) => s.step === 1).length > 1 ? 'the chord body was made twice'
      : w.end.state !== 'succeeded' && w.end.state !== 'failed' ? `ended ${w.end.state}`
      : null;
    if (why) badWorkflows.push({ id: w.id, shape: w.shape, why, state: w.end.state });
  }
  const openWorkflows = [...ledger.workflows.values()].filter((w) => !w.end).map((w) => ({ id: w.id, shape: w.shape }));

  const slotsTwice = [...ledger.slots].filter(([key, ids]) => ids.size > 1 || !key.startsWith('schedule:')).map(([key, ids]) => ({ key, ids: [...ids] }));

  const last = input.samples[input.samples.length - 1];
  // Each sample where something finished longer ago than retention (plus the sweep's slack) was still kept.
  const storage = input.samples
    .filter((s) => (s.d1?.pastRetention ?? 0) > 0 || (s.queueObjects?.pastRetention ?? 0) > 0)
    .map((s) => ({ t: s.t, d1RecordsPastRetention: s.d1?.pastRetention ?? null, queueObjectRowsPastRetention: s.queueObjects?.pastRetention ?? null }));
  const staleWorkflows = input.samples.filter((s) => s.staleWorkflowObjects.count > 0).map((s) => ({ t: s.t, ...s.staleWorkflowObjects }));

  const violations: Record<string, Violation> = {
    lost: violation('owed tasks that never reached a final state', lost.map((t) => ({ id: t.id, via: t.via, task: t.task, lastState: t.last ?? null, notFound: t.notFound }))),
    twoSuccesses: violation('tasks for which the hub accepted two acks', [...twice, ...twiceUnowed]),
    wrongRun: violation('succeeded tasks whose recorded result is not the run the hub accepted', wrongRun),
    changedAfterFinal: violation('final tasks that read otherwise (state, attempts or result) when read again at the end', input.changedAfterFinal),
    notInD1: violation('final tasks whose D1 record does not say so (state, attempts), or is gone before retention', input.notInD1),
    wrongEnd: violation('tasks that ended otherwise than designed (not explained by a lapsed lease)', wrongEnd),
    workflows: violation('workflows unfinished, with a wrong result, or with a step made twice', [...openWorkflows.map((w) => ({ ...w, why: 'never finished' })), ...badWorkflows]),
    serverErrors: violation('answers 5xx (or no answer in 120 s while the runtime was up), to the load, the checks or the workers', [...ledger.answered.serverErrors, ...folded.workerErrors]),
    slotsTwice: violation('schedule slots that made more than one task (or a schedule task without its slot key)', slotsTwice),
    idempotency: violation('repeats of an idempotency key that named another task', ledger.keyMismatches),
    refused: violation('4xx answers to requests the soak built valid', ledger.answered.refused),
    storage: violation('samples where D1 or a queue object kept finished task records past retention', storage),
    workflowStorage: violation('samples where finished workflows\' objects were kept past retention', staleWorkflows),
    workerCrashes: violation('worker processes that died without being killed', input.workerCrashes),
  };

  const byEnd: Record<string, number> = {};
  for (const t of owed) if (t.end) byEnd[t.end.state] = (byEnd[t.end.state] ?? 0) + 1;
  // Flaky tasks run twice by design; any other task started more than once was re-run after a kill or a lapsed lease.
  const reRun = owed.filter((t) => (runs.get(t.id) ?? 0) > 1);
  const reRunUnplanned = reRun.filter((t) => !t.flaky || (runs.get(t.id) ?? 0) > 2).length;
  const latencies = owed
    .filter((t) => t.end?.state === 'succeeded' && t.end.finishedAt && t.via !== 'schedule')
    .map((t) => Date.parse(t.end!.finishedAt!) - t.due)
    .sort((a, b) => a - b);
  const pct = (p: number) => (latencies.length ? Math.round(latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]) : null);
  const figures = {
    owedTasks: owed.length,
    byEnd,
    failedByLapsedLeases: leaseExpired.length,
    handlerRuns: [...runs.values()].reduce((a, b) => a + b, 0),
    tasksStartedMoreThanOnce: reRun.length,
    tasksStartedAgainAfterAFault: reRunUnplanned,
    acceptedAcks: [...accepted.values()].reduce((a, b) => a + b.length, 0),
    workflows: ledger.workflows.size,
    scheduleSlots: ledger.slots.size,
    dueToFinishMs: { p50: pct(0.5), p99: pct(0.99), max: latencies.length ? Math.round(latencies[latencies.length - 1]) : null },
    storageAtEnd: last ?? null,
    storagePeak: {
      totalBytes: Math.max(0, ...input.samples.map((s) => s.totalBytes)),
      d1Tasks: Math.max(0, ...input.samples.map((s) => s.d1?.tasks ?? 0)),
    },
  };
  return { violations, figures, folded };
}

export type { OwedTask };
