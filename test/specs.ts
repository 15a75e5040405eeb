// A valid task spec for unit tests, with the defaults enqueue applies; override what a test is about.
import { newTaskId } from '../src/core/ids.ts';
import type { TaskSpec } from '../src/core/states.ts';

export function taskSpec(over: Partial<TaskSpec> = {}): TaskSpec {
  const createdAt = over.createdAt ?? Date.now();
  return {
    id: newTaskId(createdAt),
    task: 'job',
    args: '[]',
    kwargs: '{}',
    queue: 'unit',
    region: null,
    priority: 5,
    eta: null,
    expiresAt: null,
    maxRetries: 3,
    retryDelay: 1,
    timeout: 60,
    idempotencyKey: null,
    orderingKey: null,
    parentId: null,
    rootId: null,
    workflowId: null,
    groupKey: null,
    groupLimit: null,
    http: null,
    callback: null,
    createdAt,
    ...over,
  };
}
