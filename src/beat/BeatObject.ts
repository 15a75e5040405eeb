// BeatObject: the alarm that runs `every` schedules on time, below a minute too, which cron triggers cannot.
import { DurableObject } from 'cloudflare:workers';
import type { Env } from '../env.ts';
import { nextIntervalAt } from './store.ts';
import { runBeat } from './tick.ts';

/** One per hub (named "beat"). Its alarm is recomputed from D1 after every run and every change. */
export class BeatObject extends DurableObject<Env> {
  /** Sets the alarm for the earliest `every` slot, or clears it when there is none. */
  async arm(): Promise<number | null> {
    const at = await nextIntervalAt(this.env.DB);
    if (at === null) await this.ctx.storage.deleteAlarm();
    else await this.ctx.storage.setAlarm(Math.max(at, Date.now()));
    return at;
  }

  override async alarm(): Promise<void> {
    await runBeat(this.env, Date.now(), { intervals: true });
    await this.arm();
  }
}

export function beatObject(env: Env) {
  return env.BEAT.get(env.BEAT.idFromName('beat'));
}
