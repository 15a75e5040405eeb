// wrangler.toml's custom build: under `wrangler dev` (WRANGLER_COMMAND=dev) it readies a fresh clone,
// so `npx wrangler dev` serves a working hub: the local D1 migrations applied, and a development
// token in .dev.vars when there is none, with a line saying so. Under deploy (and npm start's
// bundling) it does nothing: remote migrations and secrets are `npm run deploy`'s.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bindingInUse } from '../src/db/partitions.ts';

if (process.env.WRANGLER_COMMAND === 'dev') {
  const root = join(import.meta.dirname, '..');
  const say = (line: string) => process.stdout.write(`drover: ${line}\n`);

  // Every D1 of the hub in use: DB, the partitions DROVER_D1_PARTITIONS uses (.dev.vars, else
  // wrangler.toml) and each jurisdiction's (DB_EU, DB_FEDRAMP), with the same migrations. A
  // wrangler process each costs seconds, so partitions declared but unused get none.
  const toml = readFileSync(join(root, 'wrangler.toml'), 'utf8');
  const devVarsText = existsSync(join(root, '.dev.vars')) ? readFileSync(join(root, '.dev.vars'), 'utf8') : '';
  const partitions = Number(/^DROVER_D1_PARTITIONS\s*=\s*"?(\d+)/m.exec(devVarsText)?.[1] ?? /^DROVER_D1_PARTITIONS\s*=\s*"(\d+)"/m.exec(toml)?.[1] ?? 1);
  const bindings = [...toml.matchAll(/^binding\s*=\s*"(DB(?:_[A-Z0-9]+)?)"/gm)]
    .map((m) => m[1])
    .filter((b) => bindingInUse(b, partitions));
  // The migrations applied last time, by name, and where: a rebuild (wrangler dev re-runs this on
  // every change) spends no wrangler process when nothing new came.
  const migrations = [...readdirSync(join(root, 'migrations')).filter((f) => f.endsWith('.sql')).sort(), bindings.join(',')].join('\n');
  const stamp = join(root, '.wrangler', 'drover-local-migrations');
  if (!existsSync(stamp) || readFileSync(stamp, 'utf8') !== migrations) {
    const wrangler = join(root, 'node_modules', 'wrangler', 'bin', 'wrangler.js');
    for (const binding of bindings) {
      const applied = spawnSync(process.execPath, [wrangler, 'd1', 'migrations', 'apply', binding, '--local'], { cwd: root, encoding: 'utf8', env: { ...process.env, CI: 'true' } });
      if (applied.status !== 0) {
        process.stderr.write(`drover: applying the local D1 migrations to ${binding} failed:\n${applied.stdout}${applied.stderr}`);
        process.exit(1);
      }
    }
    mkdirSync(join(root, '.wrangler'), { recursive: true });
    writeFileSync(stamp, migrations);
    say(`applied the D1 migrations to the local databases (${bindings.join(', ')})`);
  }

  const devVars = join(root, '.dev.vars');
  const vars = existsSync(devVars) ? readFileSync(devVars, 'utf8') : '';
  if (!/^DROVER_TOKENS=/m.test(vars)) {
    const token = `dev-${randomBytes(12).toString('hex')}`;
    writeFileSync(devVars, `${vars}${vars && !vars.endsWith('\n') ? '\n' : ''}# A development token, made by the first wrangler dev. name:scope, comma-separated.\nDROVER_TOKENS=${token}:admin\n`);
    say(`wrote a development token to .dev.vars: ${token} (admin)`);
  }
  // workerd has no jurisdictions: the hub keeps a bound region's objects apart by name (docs/regions.md#jurisdictions).
  const now = existsSync(devVars) ? readFileSync(devVars, 'utf8') : '';
  if (!/^DROVER_LOCAL_JURISDICTIONS=/m.test(now)) {
    writeFileSync(devVars, `${now}${now && !now.endsWith('\n') ? '\n' : ''}# workerd has no jurisdictions: objects of a region bound to one are kept apart by name.\nDROVER_LOCAL_JURISDICTIONS=true\n`);
  }
}
