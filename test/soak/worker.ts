// A soak worker process: the SDK's PullWorker on each soak queue, journaling every run and every answer of the hub.
//   node test/soak/worker.ts URL TOKEN QUEUES(comma-separated) CONCURRENCY JOURNAL socket|http
// The soak kills it with SIGKILL and starts another; the journal (written synchronously, line by line)
// survives the kill up to the last line written. It exits when its parent goes (the IPC channel closes).
import { closeSync, openSync, writeSync } from 'node:fs';
import { PullWorker } from '../../src/sdk/pull.ts';
import { observedFetch, observeSockets, type JournalLine } from './observe.ts';
import { onRun, TASKS } from './tasks.ts';

const [url, token, queues, concurrency, journal, transport] = process.argv.slice(2);
const fd = openSync(journal, 'a');
const write = (line: JournalLine) => writeSync(fd, `${JSON.stringify(line)}\n`);
const socket = transport === 'socket';

write({ e: 'up', pid: process.pid, socket, t: Date.now() });
onRun((what, ctx, ok) => write({ e: what, id: ctx.id, a: ctx.attempt, ...(ok === undefined ? {} : { ok }), t: Date.now() }));
if (socket) observeSockets(write);
const fetch = observedFetch(write);

const workers = queues.split(',').map(
  (queue) =>
    new PullWorker({
      url,
      token,
      queue,
      tasks: TASKS,
      concurrency: Number(concurrency),
      name: `soak-${process.pid}-${queue}`,
      waitSeconds: 2,
      graceSeconds: 5,
      socket,
      fetch,
      // The worker's own complaints (hub unreachable during a runtime kill) are expected; the journal is the record.
      log: () => {},
    }),
);

const stop = async () => {
  await Promise.all(workers.map((w) => w.stop()));
  closeSync(fd);
  process.exit(0);
};
process.on('disconnect', () => void stop());
process.on('SIGTERM', () => void stop());
await Promise.all(workers.map((w) => w.run()));
