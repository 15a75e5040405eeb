// CPU time and memory of a process group's processes, from /proc (Linux): what the runtime spent.
import { readdirSync, readFileSync } from 'node:fs';

const TICK = 100; // USER_HZ: clock ticks per second on Linux

export interface ProcUsage {
  name: string;
  cpuSeconds: number;
  rssBytes: number;
}

/** Every live process of the group, by command name, with its CPU seconds (user + system) and resident memory. */
export function groupUsage(pgid: number): ProcUsage[] {
  const out: ProcUsage[] = [];
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // fields after the name: state ppid pgrp ... utime(14th overall => index 11 here) stime(12) ... rss(24th => 21)
      if (Number(f[2]) !== pgid) continue;
      out.push({ name, cpuSeconds: (Number(f[11]) + Number(f[12])) / TICK, rssBytes: Number(f[21]) * 4096 });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** CPU seconds the group's workerd processes have used so far. */
export function runtimeCpu(pgid: number): number {
  return groupUsage(pgid).filter((p) => p.name === 'workerd').reduce((s, p) => s + p.cpuSeconds, 0);
}

/** Resident memory of the group's workerd processes, bytes. */
export function runtimeRss(pgid: number): number {
  return groupUsage(pgid).filter((p) => p.name === 'workerd').reduce((s, p) => s + p.rssBytes, 0);
}
