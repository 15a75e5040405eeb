// Which ready tasks no worker would take, by name and region.
import { describe, expect, it } from 'vitest';
import { unserved, type Claimant } from './unserved.ts';

const worker = (region: string | null, tasks: string[] | null): Claimant => ({ worker: 'w', region, tasks, at: 0 });

describe('unserved', () => {
  const ready = [
    { task: 'report.build', region: null, ready: 2 },
    { task: 'report.build', region: 'cn', ready: 3 },
    { task: 'mail.send', region: null, ready: 1 },
  ];

  it('lists every ready group when no worker claims', () => {
    expect(unserved(ready, [])).toEqual([
      { task: 'mail.send', region: null, ready: 1 },
      { task: 'report.build', region: null, ready: 2 },
      { task: 'report.build', region: 'cn', ready: 3 },
    ]);
  });

  it('a worker that names its tasks serves only those', () => {
    expect(unserved(ready, [worker(null, ['mail.send'])]).map((g) => g.task)).toEqual(['report.build', 'report.build']);
  });

  it('a worker of no region takes untagged tasks only; one of region R takes R and untagged', () => {
    expect(unserved(ready, [worker(null, null)])).toEqual([{ task: 'report.build', region: 'cn', ready: 3 }]);
    expect(unserved(ready, [worker('cn', ['report.build'])])).toEqual([{ task: 'mail.send', region: null, ready: 1 }]);
    expect(unserved(ready, [worker('weur', null)])).toEqual([{ task: 'report.build', region: 'cn', ready: 3 }]);
  });

  it('adds up the same group from several shards and skips empty ones', () => {
    expect(unserved([...ready, { task: 'report.build', region: 'cn', ready: 4 }, { task: 'x', region: null, ready: 0 }], [worker(null, ['mail.send', 'report.build'])])).toEqual([
      { task: 'report.build', region: 'cn', ready: 7 },
    ]);
  });
});
