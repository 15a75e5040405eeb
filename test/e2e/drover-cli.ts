// Runs the `drover` command (bin/drover.ts) as a user does, a subprocess to its end, against a hub.
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { TOKENS } from './system.ts';

const root = resolve(import.meta.dirname, '..', '..');

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `drover ARGS` with DROVER_URL=url and an admin DROVER_TOKEN; `env` adds to them, or removes with undefined. */
export function runDrover(url: string, args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  const vars: Record<string, string | undefined> = { ...process.env, DROVER_URL: url, DROVER_TOKEN: TOKENS.admin, ...env };
  for (const [k, v] of Object.entries(vars)) if (v === undefined) delete vars[k];
  const child = spawn(process.execPath, [resolve(root, 'bin/drover.ts'), ...args], { cwd: root, env: vars as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((ok) => child.once('close', (code) => ok({ code, stdout, stderr })));
}
