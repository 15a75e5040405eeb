// The bus message format (versioned): tasks packed into messages under the bus's size limits.
import type { TaskSpec } from '../core/states.ts';
import { utf8Bytes } from '../core/params.ts';

/**
 * v1 carries whole tasks, or only the ids of tasks too large for one message: those
 * the consumer reads back from D1, where the hub recorded them before sending.
 * `recorded: false` marks tasks sent by another Worker straight onto the bus
 * (`env.BUS.send(envelope(...))`): the consumer records them in D1 first.
 */
export type Envelope =
  | { v: 1; tasks: TaskSpec[]; recorded: boolean }
  | { v: 1; refs: string[] };

/** Cloudflare Queues: 128,000 bytes a message, 288,000 bytes and 100 messages a sendBatch. */
const MESSAGE_BYTES = 120_000;
const BATCH_BYTES = 250_000;
const BATCH_MESSAGES = 100;
const REFS_PER_MESSAGE = 64;

function size(spec: TaskSpec): number {
  // UTF-8 bytes of the JSON: never below the bus's own (v8) serialisation, which spends one byte
  // on a Latin-1 character and two on any other; JSON's length in characters is below it for text
  // outside Latin-1 (a Chinese page in the args is twice its length).
  return utf8Bytes(JSON.stringify(spec)) + 16;
}

/**
 * Packs tasks into as few messages as fit, and messages into sendBatch-sized groups. Tasks
 * `byRef` picks go as their ids alone (recorded ones only): a task of a region bound to a
 * jurisdiction, whose args must not rest in the bus outside it.
 */
export function pack(specs: TaskSpec[], recorded: boolean, byRef: (spec: TaskSpec) => boolean = () => false): Envelope[][] {
  const messages: { body: Envelope; bytes: number }[] = [];
  let current: TaskSpec[] = [];
  let bytes = 0;
  const refs: string[] = [];
  const close = () => {
    if (current.length) messages.push({ body: { v: 1, tasks: current, recorded }, bytes });
    current = [];
    bytes = 0;
  };
  for (const spec of specs) {
    if (recorded && byRef(spec)) {
      refs.push(spec.id);
      continue;
    }
    const n = size(spec);
    if (n > MESSAGE_BYTES - 64) {
      if (!recorded) throw new Error(`task ${spec.id} is too large for the bus`);
      refs.push(spec.id);
      continue;
    }
    if (bytes + n > MESSAGE_BYTES) close();
    current.push(spec);
    bytes += n;
  }
  close();
  // The consumer reads a message's tasks back from D1 at once: 64 of at most 128 KiB is 8 MiB,
  // well inside a Worker's 128 MB of memory (1,000 would be all of it).
  for (let i = 0; i < refs.length; i += REFS_PER_MESSAGE) {
    const ids = refs.slice(i, i + REFS_PER_MESSAGE);
    messages.push({ body: { v: 1, refs: ids }, bytes: ids.length * 30 });
  }
  const batches: Envelope[][] = [];
  let batch: Envelope[] = [];
  let batchBytes = 0;
  for (const m of messages) {
    if (batch.length && (batch.length === BATCH_MESSAGES || batchBytes + m.bytes > BATCH_BYTES)) {
      batches.push(batch);
      batch = [];
      batchBytes = 0;
    }
    batch.push(m.body);
    batchBytes += m.bytes;
  }
  if (batch.length) batches.push(batch);
  return batches;
}

/** Sends tasks on the bus (those `byRef` picks as ids, see pack). */
export async function send(bus: Queue<Envelope>, specs: TaskSpec[], recorded = true, byRef?: (spec: TaskSpec) => boolean): Promise<void> {
  for (const batch of pack(specs, recorded, byRef)) {
    await bus.sendBatch(batch.map((body) => ({ body, contentType: 'v8' as const })));
  }
}

export function isEnvelope(body: unknown): body is Envelope {
  if (typeof body !== 'object' || body === null || (body as { v?: unknown }).v !== 1) return false;
  const e = body as Record<string, unknown>;
  return Array.isArray(e.tasks) || Array.isArray(e.refs);
}
