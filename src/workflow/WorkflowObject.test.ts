// The WorkflowObject of an id nobody started: every call answers as for no workflow, and makes no storage.
import { env, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import type { WorkflowObject } from './WorkflowObject.ts';

const tablesOf = (stub: DurableObjectStub<WorkflowObject>) =>
  runInDurableObject(stub, (_, state) => state.storage.sql.exec(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\'`).toArray().length);

describe('a workflow id nobody started', () => {
  it('reads as none, takes no revoke, ignores reports of its tasks, and keeps no tables', async () => {
    const stub = env.WORKFLOWS.getByName('01JZZZZZZZZZZZZZZZZZZZZZZZ');
    expect(await stub.describe()).toBeNull();
    expect(await stub.revoke()).toBeNull();
    // A late report (the workflow's retention ended and it was deleted) recreates nothing.
    await stub.tasksFinished([{ taskId: '01JZZZZZZZZZZZZZZZZZZZZZZY', state: 'succeeded', result: '1', error: null }]);
    expect(await runDurableObjectAlarm(stub)).toBe(false);
    expect(await stub.describe()).toBeNull();
    expect(await tablesOf(stub)).toBe(0);
  });
});
