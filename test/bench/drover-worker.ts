// A bench worker process: the SDK's PullWorker over the no-op task, telling its parent how many
// jobs it finished (acked) and when each started, over IPC. Starts claiming on the parent's 'run'.
import { PullWorker } from '../../src/sdk/pull.ts';
import { defineTask } from '../../src/sdk/index.ts';

const [url, token, queue, concurrency] = process.argv.slice(2);
const starts: number[] = [];
// args[0], when given, is the enqueue time on the host's monotonic clock (ms) for latency runs:
// one clock for every process, unlike performance.timeOrigin, which each process reads at its start.
const noop = defineTask('noop', async (args: number[]) => {
  if (typeof args[0] === 'number' && args[0] >= 0) starts.push(Number(process.hrtime.bigint()) / 1e6 - args[0]);
  return null;
});
const worker = new PullWorker({ url, token, queue, tasks: [noop], concurrency: Number(concurrency), waitSeconds: 1, socket: process.env.BENCH_DROVER_HTTP !== '1', log: () => {} });

let reported = -1;
const report = () => {
  if (worker.counts.succeeded !== reported || starts.length) {
    reported = worker.counts.succeeded;
    process.send!({ done: reported, starts: starts.splice(0) });
  }
};
const timer = setInterval(report, 5);
process.on('message', (m: { cmd: string }) => {
  if (m.cmd === 'run') void worker.run();
  if (m.cmd === 'stop') {
    void worker.stop().then(() => {
      report();
      clearInterval(timer);
      process.disconnect();
    });
  }
});
process.send!({ ready: true });
