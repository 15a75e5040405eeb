import { describe, expect, it } from 'vitest';
import { jurisdictionOf, jurisdictions } from './jurisdictions.ts';
import { claimNames, objectNames, parseShardName, taskShardName } from './shards.ts';

const env = { DROVER_JURISDICTIONS: '{"weur": "eu", "us-gov": "fedramp"}', DB_EU: {}, DB_FEDRAMP: {}, DROVER_SHARDS: '{"big": 2}' };

describe('DROVER_JURISDICTIONS', () => {
  it('binds regions to jurisdictions, and leaves every other region outside', () => {
    expect(jurisdictionOf(env, 'weur')).toBe('eu');
    expect(jurisdictionOf(env, 'us-gov')).toBe('fedramp');
    expect(jurisdictionOf(env, 'apac')).toBeNull();
    expect(jurisdictionOf(env, null)).toBeNull();
    expect(jurisdictions({}).used).toEqual([]);
  });

  it('refuses a table it could never apply, saying what is wrong', () => {
    expect(() => jurisdictions({ DROVER_JURISDICTIONS: 'nope' })).toThrow(/not JSON/);
    expect(() => jurisdictions({ DROVER_JURISDICTIONS: '["eu"]' })).toThrow(/JSON object/);
    expect(() => jurisdictions({ DROVER_JURISDICTIONS: '{"WEUR": "eu"}', DB_EU: {} })).toThrow(/not a region/);
    expect(() => jurisdictions({ DROVER_JURISDICTIONS: '{"weur": "mars"}', DB_EU: {} })).toThrow(/not a jurisdiction/);
    expect(() => jurisdictions({ DROVER_JURISDICTIONS: '{"weur": "fedramp"}', DB_EU: {} })).toThrow(/no DB_FEDRAMP D1 binding/);
  });

  it("places a bound region's tasks on the queue's objects in its jurisdiction, and a claim of it reads both", () => {
    const task = { id: '01ARZ3NDEKTSV4RRFFQ69G5FAV', queue: 'big', orderingKey: null };
    expect(parseShardName(taskShardName(env, { ...task, region: 'weur' }))).toMatchObject({ queue: 'big', jurisdiction: 'eu' });
    expect(parseShardName(taskShardName(env, { ...task, region: 'apac' }))).toMatchObject({ queue: 'big', jurisdiction: null });
    expect(objectNames(env, 'big')).toEqual(['big', 'big~1', 'eu:big', 'eu:big~1', 'fedramp:big', 'fedramp:big~1']);
    expect(claimNames(env, 'big', 'weur')).toEqual(['eu:big', 'eu:big~1', 'big', 'big~1']);
    expect(claimNames(env, 'big', null)).toEqual(['big', 'big~1']);
  });
});
