// A queue object's D1 binding, wrapped from inside the object: tests hold, fail or watch its writes.
import { runInDurableObject } from 'cloudflare:test';
import type { QueueObject } from '../src/queue/QueueObject.ts';

type Batch = (statements: D1PreparedStatement[]) => Promise<D1Result[]>;

/**
 * Wraps the object's D1 binding: `bound` sees each statement's values, `batch` each batch (with
 * the real one to send it). The binding is shared with other objects: call the restore returned.
 */
export async function patchD1(
  stub: DurableObjectStub<QueueObject>,
  hooks: { bound?: (values: unknown[], statement: D1PreparedStatement) => void; batch?: (statements: D1PreparedStatement[], send: Batch) => Promise<D1Result[]> },
): Promise<() => void> {
  let restore = () => {};
  await runInDurableObject(stub, (instance) => {
    const db = (instance as unknown as { env: { DB: D1Database } }).env.DB;
    const [prepare, batch] = [db.prepare, db.batch];
    restore = () => void Object.assign(db, { prepare, batch });
    const { bound, batch: onBatch } = hooks;
    if (bound) {
      db.prepare = (query: string) => {
        const statement = prepare.call(db, query);
        const bind = statement.bind.bind(statement);
        statement.bind = (...values: unknown[]) => {
          const out = bind(...values);
          bound(values, out);
          return out;
        };
        return statement;
      };
    }
    if (onBatch) db.batch = ((statements: D1PreparedStatement[]) => onBatch(statements, (st) => batch.call(db, st))) as D1Database['batch'];
  });
  return restore;
}

