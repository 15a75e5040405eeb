// Jurisdictions: regions whose tasks are held by objects and a D1 database inside one (DROVER_JURISDICTIONS).

/** The jurisdictions Cloudflare places Durable Objects and D1 databases in. */
export const JURISDICTIONS = ['eu', 'fedramp'] as const;
export type Jurisdiction = (typeof JURISDICTIONS)[number];

/** The D1 binding each jurisdiction's records are written to: a database made with `wrangler d1 create --jurisdiction <j>`. */
export const JURISDICTION_DB = { eu: 'DB_EU', fedramp: 'DB_FEDRAMP' } as const satisfies Record<Jurisdiction, string>;

/** A region tag, as the protocol has it (src/protocol/fields.ts); core may not import protocol. */
const REGION = /^[a-z0-9-]{1,32}$/;

export interface JurisdictionTable {
  /** The jurisdiction a region is bound to, or null. */
  of(region: string | null | undefined): Jurisdiction | null;
  /** The jurisdictions the table uses, each once, in the order of JURISDICTIONS. */
  used: Jurisdiction[];
}

/** The settings (and bindings, to check) a table is read from. */
export type JurisdictionEnv = { DROVER_JURISDICTIONS?: string; DB_EU?: unknown; DB_FEDRAMP?: unknown };

const NONE: JurisdictionTable = { of: () => null, used: [] };
const compiled = new Map<string, JurisdictionTable | Error>();

/**
 * DROVER_JURISDICTIONS: a JSON object of region to jurisdiction, `{"weur": "eu"}`. Each jurisdiction
 * it names needs its D1 binding (`DB_EU`, `DB_FEDRAMP`). A table that could never be applied fails
 * every call the same way, with what is wrong in it: a task of a bound region must never be stored
 * outside because the table was misread. Read once per text.
 */
export function jurisdictions(env: JurisdictionEnv): JurisdictionTable {
  // Every task placed asks: a Worker's env is one object for its isolate, so it is looked up once.
  const seen = byEnv.get(env);
  if (seen) return seen;
  const table = readTable(env);
  byEnv.set(env, table);
  return table;
}

const byEnv = new WeakMap<object, JurisdictionTable>();

function readTable(env: JurisdictionEnv): JurisdictionTable {
  const text = env.DROVER_JURISDICTIONS ?? '';
  if (text.trim() === '' || text.trim() === '{}') return NONE;
  const bound = JURISDICTIONS.filter((j) => env[JURISDICTION_DB[j]] !== undefined && env[JURISDICTION_DB[j]] !== null);
  const key = `${bound.join(',')}|${text}`;
  let known = compiled.get(key);
  if (!known) {
    try {
      known = compileTable(text, bound);
    } catch (err) {
      known = err as Error;
    }
    compiled.set(key, known);
  }
  if (known instanceof Error) throw known;
  return known;
}

function compileTable(text: string, bound: Jurisdiction[]): JurisdictionTable {
  let table: unknown;
  try {
    table = JSON.parse(text);
  } catch {
    throw new Error(`DROVER_JURISDICTIONS is not JSON: ${text.slice(0, 100)}`);
  }
  if (table === null || typeof table !== 'object' || Array.isArray(table)) throw new Error('DROVER_JURISDICTIONS must be a JSON object of region to jurisdiction, such as {"weur": "eu"}');
  const regions = new Map<string, Jurisdiction>();
  for (const [region, j] of Object.entries(table)) {
    if (!REGION.test(region)) throw new Error(`DROVER_JURISDICTIONS: "${region.slice(0, 40)}" is not a region (1-32 characters of a-z, 0-9 and -)`);
    if (!(JURISDICTIONS as readonly unknown[]).includes(j)) throw new Error(`DROVER_JURISDICTIONS: "${region}" names ${JSON.stringify(j)}, not a jurisdiction (${JURISDICTIONS.join(', ')})`);
    const name = j as Jurisdiction;
    if (!bound.includes(name)) throw new Error(`DROVER_JURISDICTIONS: "${region}" is bound to ${name}, but the hub has no ${JURISDICTION_DB[name]} D1 binding (a database made with wrangler d1 create --jurisdiction ${name})`);
    regions.set(region, name);
  }
  const used = JURISDICTIONS.filter((j) => [...regions.values()].includes(j));
  return { of: (region) => (region ? (regions.get(region) ?? null) : null), used };
}

/** The jurisdiction a task of this region is held in, or null (outside any). */
export function jurisdictionOf(env: JurisdictionEnv, region: string | null | undefined): Jurisdiction | null {
  return jurisdictions(env).of(region);
}
