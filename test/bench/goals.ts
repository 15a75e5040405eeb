// Issue 32's goals for drover, each checked against a run's medians: met, short by how much, or not measured in this run.
import type { Figure, Result } from './run.ts';

export interface Goal {
  goal: string;
  /** drover's figure: a ratio to BullMQ's median in the same run, or an absolute figure in `unit`. */
  value: number | null;
  bar: number;
  /** null: a figure it needs was not measured in this run. */
  met: boolean | null;
  unit: 'x' | 'tasks/s' | 'µs' | 'statements';
  /** Why it was skipped, when it was. */
  skipped?: string;
}

type Parts = Pick<Result, 'scenarios' | 'shards' | 'diskLatency' | 'hubCpuUsPerTask' | 'statementsPerTask' | 'statementsAtRate'>;

/**
 * Each goal as drover's figure against its bar. `atLeast` goals are met at or above the bar,
 * the others at or below it. Ratios are to BullMQ's median in the same run.
 */
export function goals(r: Parts): Goal[] {
  const fig = (key: string, system: string): Figure | undefined => r.scenarios.find((s) => s.key === key)?.figures[system];
  const out: Goal[] = [];
  const check = (goal: string, unit: Goal['unit'], bar: number, atLeast: boolean, value: number | null | undefined, skipped: string) => {
    if (value === null || value === undefined || !Number.isFinite(value)) out.push({ goal, value: null, bar, met: null, unit, skipped });
    else out.push({ goal, value, bar, met: atLeast ? value >= bar : value <= bar, unit });
  };
  const ratio = (key: string) => {
    const d = fig(key, 'drover');
    const b = fig(key, 'bullmq');
    return d && b ? d.median / b.median : null;
  };
  const noBull = 'drover or BullMQ not run';
  check('batch enqueue >= 1.5x BullMQ', 'x', 1.5, true, ratio('enqueueBatch'), noBull);
  check('drain >= 1.5x BullMQ', 'x', 1.5, true, ratio('drain'), noBull);
  check('end to end >= 1.5x BullMQ', 'x', 1.5, true, ratio('endToEnd'), noBull);
  check('singles (socket) >= 10,000/s', 'tasks/s', 10_000, true, fig('enqueueSingle', 'drover')?.median, 'drover not run');
  check('singles (socket) >= 0.5x BullMQ', 'x', 0.5, true, ratio('enqueueSingle'), noBull);
  check('singles over HTTP >= 5,000/s', 'tasks/s', 5000, true, fig('enqueueHttp', 'drover')?.median, 'drover not run');
  check('latency p50 <= 1.0x BullMQ', 'x', 1, false, ratio('latencyP50'), noBull);
  check('latency p99 <= 1.5x BullMQ', 'x', 1.5, false, ratio('latencyP99'), noBull);
  const bullP99 = fig('latencyP99', 'bullmq');
  check('latency p99 on disk <= 2x BullMQ', 'x', 2, false, r.diskLatency && bullP99 ? r.diskLatency.p99.median / bullP99.median : null, r.diskLatency ? 'BullMQ not run' : 'no latency on disk (--no-disk, or the state was on disk already)');
  const one = r.shards?.find((p) => p.shards === 1);
  const four = r.shards?.find((p) => p.shards === 4);
  check('4 shards drain >= 1.0x of 1 shard', 'x', 1, true, one && four ? four.drain.median / one.drain.median : null, r.shards ? 'no 4-shard run (quick mode runs 1 and 2)' : 'no shards run (--no-shards)');
  check('hub CPU per task in drain <= 30 µs', 'µs', 30, false, r.hubCpuUsPerTask?.median, 'drover not run');
  check('statements per task, batches <= 8', 'statements', 8, false, r.statementsPerTask?.total.median, 'drover not run');
  // At the latency scenario's rate each task goes alone: the steady state where nothing is shared.
  check('statements per task, 100/s <= 8', 'statements', 8, false, r.statementsAtRate?.total.median, 'drover not run');
  return out;
}

const show = (v: number, unit: Goal['unit']) =>
  unit === 'x' ? `${v.toFixed(2)}x` : unit === 'tasks/s' ? `${Math.round(v).toLocaleString('en')}/s` : unit === 'µs' ? `${v.toFixed(1)} µs` : v.toFixed(2);

/** One line a goal: met, short by how much, or skipped and why. */
export function goalLine(g: Goal): string {
  const head = `  ${g.goal.padEnd(36)}`;
  if (g.met === null) return `${head} not measured in this run: ${g.skipped}`;
  if (g.met) return `${head} ${show(g.value!, g.unit).padEnd(10)} met`;
  return `${head} ${show(g.value!, g.unit).padEnd(10)} short by ${show(Math.abs(g.bar - g.value!), g.unit)}`;
}
