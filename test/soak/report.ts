// How the soak talks: a progress line while it runs (one updating line on a terminal), the summary at the end.
import type { Verdict } from './check.ts';

export interface Progress {
  elapsedS: number;
  phase: string;
  enqueued: number;
  done: number;
  open: number;
  workflowsOpen: number;
  runtimeKills: number;
  workerKills: number;
  noAnswer: number;
  serverErrors: number;
}

const n = (v: number) => v.toLocaleString('en');
const clock = (s: number) => `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(Math.floor(s % 60)).padStart(2, '0')}`;
export const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;

export function progressLine(p: Progress): string {
  return (
    `[soak ${clock(p.elapsedS)} ${p.phase}] enqueued ${n(p.enqueued)}, done ${n(p.done)}, in flight ${n(p.open)}` +
    `, workflows open ${n(p.workflowsOpen)}, kills: runtime ${p.runtimeKills} worker ${p.workerKills}, no answer ${n(p.noAnswer)}, 5xx ${p.serverErrors}`
  );
}

/** On a terminal the line rewrites itself; elsewhere (CI, a pipe) one line every `everyS` seconds. */
export function progressPrinter(everyS: number): { show(p: Progress): void; note(message: string): void } {
  const tty = process.stdout.isTTY === true;
  let lastPrinted = -Infinity;
  let shown = false;
  return {
    show(p) {
      if (tty) {
        process.stdout.write(`\r${progressLine(p)}\x1b[K`);
        shown = true;
      } else if (p.elapsedS - lastPrinted >= everyS) {
        lastPrinted = p.elapsedS;
        console.log(progressLine(p));
      }
    },
    note(message) {
      if (tty && shown) process.stdout.write('\r\x1b[K');
      console.log(message);
    },
  };
}

export function summary(v: Verdict, run: { minutes: number; seed: number; out: string; runtimeKills: number; workerKills: number; answered: Record<string, number> }): string {
  const f = v.figures as any;
  const lines = [
    '',
    `soak: ${run.minutes} min, seed ${run.seed}`,
    `  owed tasks ${n(f.owedTasks)} (${Object.entries(f.byEnd as Record<string, number>).map(([s, c]) => `${s} ${n(c)}`).join(', ')}), workflows ${n(f.workflows)}, schedule slots ${n(f.scheduleSlots)}`,
    `  handler runs ${n(f.handlerRuns)}, tasks started more than once ${n(f.tasksStartedMoreThanOnce)} (of which ${n(f.tasksStartedAgainAfterAFault)} after a kill or a lapsed lease, the rest made to fail once), accepted acks ${n(f.acceptedAcks)}`,
    `  kills: runtime ${run.runtimeKills}, workers ${run.workerKills}; answers ${Object.entries(run.answered).map(([s, c]) => `${s}: ${n(c)}`).join(', ')}`,
    `  due to finished: p50 ${f.dueToFinishMs.p50 ?? '-'} ms, p99 ${f.dueToFinishMs.p99 ?? '-'} ms, max ${f.dueToFinishMs.max ?? '-'} ms`,
  ];
  const end = f.storageAtEnd;
  if (end) {
    lines.push(
      `  storage at the end: ${mib(end.totalBytes)} (${Object.entries(end.bytes as Record<string, number>).map(([p, b]) => `${p} ${mib(b)}`).join(', ')}); peak ${mib(f.storagePeak.totalBytes)}`,
      `    D1 task records ${end.d1 ? n(end.d1.tasks) : '?'} (peak ${n(f.storagePeak.d1Tasks)}), idempotency keys ${end.d1 ? n(end.d1.idempotencyKeys) : '?'}; queue object rows ${end.queueObjects ? n(end.queueObjects.tasks) : '?'}; workflow objects ${n(end.objects['drover-WorkflowObject'] ?? 0)}`,
    );
  }
  lines.push('  checks:');
  for (const [key, viol] of Object.entries(v.violations)) lines.push(`    ${viol.count === 0 ? 'ok  ' : 'FAIL'} ${key}: ${n(viol.count)} ${viol.what}`);
  const failed = Object.values(v.violations).some((x) => x.count > 0);
  lines.push(failed ? `soak FAILED; details in ${run.out}` : `soak passed; figures in ${run.out}`);
  return lines.join('\n');
}
