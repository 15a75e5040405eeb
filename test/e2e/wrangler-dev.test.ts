// `npx wrangler dev` on a fresh clone serves a working hub: the local D1 migrations applied and a
// development token written to .dev.vars by themselves (scripts/dev-setup.ts), with a line saying so.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect, it } from 'vitest';
import { freePort } from './system.ts';

const root = resolve(import.meta.dirname, '..', '..');

it('starts a hub that takes a task with the token it wrote, on a clone with no .dev.vars and no local database', async () => {
  // The committed tree, as a clone has it; node_modules as npm install made it.
  const clone = mkdtempSync(join(tmpdir(), 'drover-clone-'));
  const archive = spawnSync('git', ['archive', 'HEAD'], { cwd: root, maxBuffer: 1 << 30 });
  expect(spawnSync('tar', ['-x', '-C', clone], { input: archive.stdout }).status).toBe(0);
  expect(existsSync(join(clone, 'wrangler.toml'))).toBe(true);
  symlinkSync(join(root, 'node_modules'), join(clone, 'node_modules'));

  const port = await freePort();
  const dev = spawn('npx', ['wrangler', 'dev', '--port', String(port), '--ip', '127.0.0.1'], {
    cwd: clone,
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false' },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  dev.stdout!.on('data', (d) => (output += d));
  dev.stderr!.on('data', (d) => (output += d));
  try {
    const deadline = Date.now() + 90_000;
    for (;;) {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(2_000) }).catch(() => null);
      if (res?.ok) break;
      if (Date.now() > deadline || dev.exitCode !== null) throw new Error(`wrangler dev did not serve a healthy hub:\n${output}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(output).toMatch(/drover: applied the D1 migrations to the local database/);
    const token = /drover: wrote a development token to \.dev\.vars: (dev-[0-9a-f]+) \(admin\)/.exec(output)?.[1];
    expect(token, output).toBeDefined();
    expect(readFileSync(join(clone, '.dev.vars'), 'utf8')).toContain(`DROVER_TOKENS=${token}:admin`);

    const made = await fetch(`http://127.0.0.1:${port}/v1/tasks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ task: 'dev.hello', args: ['world'] }),
    });
    expect(made.status).toBe(202);
    const { id } = (await made.json()) as { id: string };
    const read = await fetch(`http://127.0.0.1:${port}/v1/tasks/${id}`, { headers: { authorization: `Bearer ${token}` } });
    expect(await read.json()).toMatchObject({ id, task: 'dev.hello', args: ['world'], state: 'queued' });
    expect((await fetch(`http://127.0.0.1:${port}/v1/tasks/${id}`)).status).toBe(401);

    // weur is bound to the EU (wrangler.toml): under wrangler dev too its task goes to the local EU stand-ins.
    const eu = await fetch(`http://127.0.0.1:${port}/v1/tasks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ task: 'dev.hello', args: ['eu'], region: 'weur' }),
    });
    expect(eu.status).toBe(202);
    const euId = ((await eu.json()) as { id: string }).id;
    const euRead = await fetch(`http://127.0.0.1:${port}/v1/tasks/${euId}`, { headers: { authorization: `Bearer ${token}` } });
    expect(await euRead.json()).toMatchObject({ id: euId, region: 'weur', args: ['eu'], state: 'queued' });
  } finally {
    try {
      process.kill(-dev.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
    rmSync(clone, { recursive: true, force: true });
  }
}, 180_000);
