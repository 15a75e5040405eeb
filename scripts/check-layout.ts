// `npm test`'s layout check, besides .dependency-cruiser.cjs (the layers): no source file in src/ over 400 lines.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const MAX_LINES = 400;
const root = join(import.meta.dirname, '..');

function* sources(dir: string): Generator<string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, e.name);
    if (e.isDirectory()) yield* sources(path);
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')) yield path;
  }
}

const long = [...sources(join(root, 'src'))]
  .map((path) => ({ path: path.slice(root.length + 1), lines: readFileSync(path, 'utf8').split('\n').length - 1 }))
  .filter((f) => f.lines > MAX_LINES);
for (const f of long) console.error(`${f.path}: ${f.lines} lines; a source file in src/ has at most ${MAX_LINES} (split it by what its parts do)`);
if (long.length) process.exit(1);
console.log(`layout: every source file in src/ is within ${MAX_LINES} lines`);
