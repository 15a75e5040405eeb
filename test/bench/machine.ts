// What a bench run ran on: the machine, the runtimes and the commit, so figures from two runs can be told apart.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, release, totalmem, type } from 'node:os';
import { resolve } from 'node:path';

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  /** The distribution's name where /etc/os-release gives it, and the kernel. */
  os: string;
  kernel: string;
  node: string;
  workerd: string;
  wrangler: string;
  /** Short sha of HEAD, "+dirty" when the work tree has changes. */
  commit: string;
  /** The one line printed over the table. */
  summary: string;
}

const root = resolve(import.meta.dirname, '..', '..');

/** The version of `pkg` as a package found from `from` resolves it (node_modules may hold several). */
function versionOf(pkg: string, from = root): string {
  try {
    const file = createRequire(resolve(from, 'package.json')).resolve(`${pkg}/package.json`);
    return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

function distribution(): string {
  try {
    const line = readFileSync('/etc/os-release', 'utf8').split('\n').find((l) => l.startsWith('PRETTY_NAME='));
    if (line) return line.slice('PRETTY_NAME='.length).replace(/^"|"$/g, '');
  } catch {
    // not Linux, or no os-release: the kernel's type says enough
  }
  return type();
}

function commit(): string {
  try {
    const git = (...args: string[]) => execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return `${git('rev-parse', '--short', 'HEAD')}${git('status', '--porcelain') ? '+dirty' : ''}`;
  } catch {
    return 'unknown';
  }
}

export function machine(): Machine {
  const cpu = cpus();
  const m = {
    cpu: cpu[0]?.model.trim() ?? 'unknown',
    cores: cpu.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    os: distribution(),
    kernel: `${type()} ${release()}`,
    node: process.version,
    // The runtime npm start runs: wrangler's own workerd, which need not be the one at the top of node_modules.
    workerd: versionOf('workerd', resolve(root, 'node_modules', 'wrangler')),
    wrangler: versionOf('wrangler'),
    commit: commit(),
  };
  const summary = `${m.cores} cores (${m.cpu}), ${m.memoryGiB} GiB, ${m.os}, Node ${m.node}, workerd ${m.workerd}, wrangler ${m.wrangler}, at ${m.commit}`;
  return { ...m, summary };
}
