// One of drover's bench figures, run several times on one fresh hub: for a quick before and after.
//   node test/bench/figure.ts single [n] [runs]     (also: batch, http, drain, e2e, latency)
// A warm-up of a tenth of n first; prints each run and the median. Latency's runs also print the
// SQLite statements a task (GET /metrics), as the full bench counts them at its rate.
import { drover } from './drover.ts';
import { runScenario } from './scenarios.ts';

const [scenario = 'single', count = '15000', times = '3'] = process.argv.slice(2);
const n = Number(count);
const system = drover();
await system.start();
try {
  await runScenario(system, scenario, Math.max(1, Math.round(n / 10)));
  const rates: number[] = [];
  for (let i = 0; i < Number(times); i++) {
    const counted = scenario === 'latency' ? await system.statementsPerTask(n, () => runScenario(system, scenario, n)) : null;
    const out = counted ? counted.value : await runScenario(system, scenario, n);
    console.log(`${scenario} run ${i + 1}:`, typeof out === 'number' ? `${Math.round(out)}/s` : JSON.stringify(out));
    if (counted) console.log(`  statements a task: ${counted.perTask.object.toFixed(2)} object + ${counted.perTask.d1.toFixed(2)} D1`);
    if (typeof out === 'number') rates.push(out);
  }
  rates.sort((a, b) => a - b);
  if (rates.length) console.log(`${scenario} median ${Math.round(rates[Math.floor(rates.length / 2)])}/s`);
} finally {
  await system.stop();
}
