// Draws docs/scaling.svg: each part's load against tasks per second, from the model in docs/scaling.md.
//   node scripts/scaling-chart.ts
// The figures are docs/scaling.md's; change them there first, then here, and run this again.
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';

/** Per task, from docs/scaling.md ("What one task costs"). */
const OBJECT_CPU_US = 40;
const D1_US = 25;
const BATCHED_REQUESTS = 0.03;
const SINGLES_REQUESTS = 3.1;
/** Published soft limit of one Durable Object, requests a second. */
const OBJECT_RPS = 1000;
/** One busy object's D1 statements a second (40 writes of 5), at 1 ms each: the page's q = 1 ms. */
const STATEMENTS_SHARE = 40 * 5 * 0.001;

/** Load as a fraction of the limit, for one object or one D1 database taking all the tasks. */
const lines: { name: string; color: string; dash?: string; load: (rate: number) => number }[] = [
  { name: 'one object: CPU (40 µs a task)', color: '#f38020', load: (r) => (r * OBJECT_CPU_US) / 1e6 },
  { name: 'one object: requests, batched (0.03 a task)', color: '#d6336c', load: (r) => (r * BATCHED_REQUESTS) / OBJECT_RPS },
  { name: 'one object: requests, singles (3.1 a task)', color: '#d6336c', dash: '6 4', load: (r) => (r * SINGLES_REQUESTS) / OBJECT_RPS },
  { name: 'one D1 database: rows (25 µs a task), q = 0', color: '#3572a5', load: (r) => (r * D1_US) / 1e6 },
  { name: 'one D1 database: rows and 1 ms a statement, one object per 12,500/s', color: '#3572a5', dash: '6 4', load: (r) => (r * D1_US) / 1e6 + Math.ceil(r / 12_500) * STATEMENTS_SHARE },
];

const W = 860;
const H = 500;
const left = 70;
const right = 20;
const top = 50;
const bottom = 150;
const plotW = W - left - right;
const plotH = H - top - bottom;
const [xMin, xMax] = [100, 200_000];
const [yMin, yMax] = [0.001, 10];
const x = (rate: number) => left + (Math.log10(rate / xMin) / Math.log10(xMax / xMin)) * plotW;
const y = (load: number) => top + plotH - (Math.log10(Math.max(load, yMin) / yMin) / Math.log10(yMax / yMin)) * plotH;
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

const out: string[] = [];
out.push(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" font-family="system-ui, sans-serif" font-size="12">`);
out.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
out.push(`<clipPath id="plot"><rect x="${left}" y="${top}" width="${plotW}" height="${plotH}"/></clipPath>`);
out.push(`<text x="${left}" y="24" font-size="15" font-weight="600">Load on one part, as a share of its limit, against tasks per second</text>`);
for (const rate of [100, 1000, 10_000, 100_000]) {
  out.push(`<line x1="${x(rate)}" y1="${top}" x2="${x(rate)}" y2="${top + plotH}" stroke="#ddd"/>`);
  out.push(`<text x="${x(rate)}" y="${top + plotH + 16}" text-anchor="middle">${rate.toLocaleString('en')}</text>`);
}
out.push(`<text x="${left + plotW / 2}" y="${top + plotH + 34}" text-anchor="middle">tasks per second</text>`);
for (const load of [0.001, 0.01, 0.1, 1, 10]) {
  out.push(`<line x1="${left}" y1="${y(load)}" x2="${left + plotW}" y2="${y(load)}" stroke="#eee"/>`);
  out.push(`<text x="${left - 6}" y="${y(load) + 4}" text-anchor="end">${load * 100}%</text>`);
}
// The limit, and the model's rule of at most half of it.
out.push(`<line x1="${left}" y1="${y(1)}" x2="${left + plotW}" y2="${y(1)}" stroke="#000" stroke-width="1.5"/>`);
out.push(`<text x="${left + plotW - 4}" y="${y(1) - 5}" text-anchor="end">limit</text>`);
out.push(`<line x1="${left}" y1="${y(0.5)}" x2="${left + plotW}" y2="${y(0.5)}" stroke="#000" stroke-dasharray="2 3"/>`);
out.push(`<text x="${left + plotW - 4}" y="${y(0.5) + 14}" text-anchor="end">the model's 50%</text>`);
for (const line of lines) {
  const points: string[] = [];
  for (let i = 0; i <= 200; i++) {
    const rate = xMin * (xMax / xMin) ** (i / 200);
    points.push(`${x(rate).toFixed(1)},${y(line.load(rate)).toFixed(1)}`);
  }
  out.push(`<polyline clip-path="url(#plot)" fill="none" stroke="${line.color}" stroke-width="2"${line.dash ? ` stroke-dasharray="${line.dash}"` : ''} points="${points.join(' ')}"/>`);
}
lines.forEach((line, i) => {
  const ly = top + plotH + 56 + i * 18;
  out.push(`<line x1="${left}" y1="${ly - 4}" x2="${left + 30}" y2="${ly - 4}" stroke="${line.color}" stroke-width="2"${line.dash ? ` stroke-dasharray="${line.dash}"` : ''}/>`);
  out.push(`<text x="${left + 38}" y="${ly}">${esc(line.name)}</text>`);
});
out.push(`<text x="${W - right}" y="${H - 8}" text-anchor="end" fill="#666">The bus carries nothing on the normal path. Storage (retention) is not drawn: see the storage table.</text>`);
out.push('</svg>');

writeFileSync(resolve(import.meta.dirname, '..', 'docs', 'scaling.svg'), out.join('\n') + '\n');
