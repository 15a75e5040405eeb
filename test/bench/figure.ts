// One of drover's bench figures, run several times on one fresh hub: for a quick before and after.
//   node test/bench/figure.ts single [n] [runs]     (also: batch, http, drain, e2e, latency, drain4, e2e4)
// A warm-up of a tenth of n first; prints each run and the median, with the runtime's CPU a task
// over the run (every workerd process: steadier than a rate on a busy machine). Latency's runs
// also print the SQLite statements a task (GET /metrics), as the full bench counts them at its rate.
import { drover } from './drover.ts';
import { runScenario } from './scenarios.ts';

const [scenario = 'single', count = '15000', times = '3'] = process.argv.slice(2);
const n = Number(count);
const system = drover();
await system.start();
try {
  await runScenario(system, scenario, Math.max(1, Math.round(n / 10)));
  const rates: number[] = [];
  const cpus: number[] = [];
  for (let i = 0; i < Number(times); i++) {
    const cpu0 = system.runtimeCpu();
    const counted = scenario === 'latency' ? await system.statementsPerTask(n, () => runScenario(system, scenario, n)) : null;
    const out = counted ? counted.value : await runScenario(system, scenario, n);
    // /proc counts in ticks of 10 ms: over a run of seconds, within a percent or two.
    cpus.push(((system.runtimeCpu() - cpu0) * 1e6) / n);
    console.log(`${scenario} run ${i + 1}:`, typeof out === 'number' ? `${Math.round(out)}/s` : JSON.stringify(out), `runtime CPU ${cpus[i].toFixed(0)} us/task`);
    if (counted) console.log(`  statements a task: ${counted.perTask.object.toFixed(2)} object + ${counted.perTask.d1.toFixed(2)} D1`);
    if (typeof out === 'number') rates.push(out);
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  if (rates.length) console.log(`${scenario} median ${Math.round(median(rates))}/s, runtime CPU ${median(cpus).toFixed(0)} us/task`);
} finally {
  await system.stop();
}
