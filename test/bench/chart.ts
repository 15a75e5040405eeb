// The throughput comparison as an SVG bar chart: one group per scenario, one bar per system.
import type { Figure, Result, ShardPoint } from './run.ts';

const COLORS: Record<string, string> = { drover: '#f38020', 'drover-python': '#3572a5', 'celery-drover': '#0ca678', bullmq: '#d6336c', celery: '#37b24d' };
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

export function throughputChart(result: Result): string {
  const scenarios = result.scenarios.filter((s) => s.unit === 'tasks/s');
  const systems = result.systems.map((s) => s.name);
  const max = Math.max(1, ...scenarios.flatMap((s) => systems.map((n) => s.figures[n]?.max ?? 0)));
  const W = 860;
  const panelH = 420;
  // Below the comparison: drover's drain and end to end by shard count, when measured.
  const shardH = result.shards?.length ? 260 : 0;
  const H = panelH + shardH;
  const left = 70;
  const top = 56;
  const bottom = 70;
  const plotH = panelH - top - bottom;
  const groupW = (W - left - 20) / Math.max(1, scenarios.length);
  const barW = Math.min(48, (groupW - 24) / Math.max(1, systems.length));
  const y = (v: number) => top + plotH - (v / max) * plotH;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  parts.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
  parts.push(`<text x="${left}" y="22" font-size="16" font-weight="bold">Throughput, no-op tasks (median of ${result.runs} run${result.runs > 1 ? 's' : ''}; whiskers: min and max)</text>`);
  parts.push(`<text x="${left}" y="40" fill="#555">${esc(result.machine.summary)} · ${esc(result.date)}${result.quick ? ' · quick mode (small N)' : ''}</text>`);
  // Grid and axis.
  parts.push(...grid(5, max, y, left, W - 20));
  parts.push(`<text transform="translate(16 ${top + plotH / 2}) rotate(-90)" text-anchor="middle" fill="#555">tasks per second</text>`);
  scenarios.forEach((s, gi) => {
    const x0 = left + gi * groupW + (groupW - barW * systems.length) / 2;
    systems.forEach((name, si) => {
      const f = s.figures[name];
      if (!f) return;
      parts.push(...bar('bar', x0 + si * barW, barW, f, y, top + plotH, COLORS[name] ?? '#888', name));
    });
    parts.push(`<text x="${left + gi * groupW + groupW / 2}" y="${top + plotH + 18}" text-anchor="middle">${esc(s.title)}</text>`);
  });
  systems.forEach((name, i) => {
    const x = left + i * 120;
    parts.push(`<rect x="${x}" y="${panelH - 26}" width="12" height="12" fill="${COLORS[name] ?? '#888'}"/><text x="${x + 18}" y="${panelH - 16}">${esc(name)}</text>`);
  });
  if (result.shards?.length) parts.push(shardPanel(result.shards, left, panelH, W));
  parts.push('</svg>');
  return parts.join('\n');
}

/** drover's drain and end to end by shard count: one group per count, whiskers min and max. */
function shardPanel(points: ShardPoint[], left: number, y0: number, W: number): string {
  const top = y0 + 44;
  const plotH = 150;
  const max = Math.max(1, ...points.flatMap((p) => [p.drain.max, p.endToEnd.max]));
  const y = (v: number) => top + plotH - (v / max) * plotH;
  const groupW = (W - left - 20) / points.length;
  const barW = Math.min(48, (groupW - 24) / 2);
  const parts = [`<text x="${left}" y="${y0 + 24}" font-size="14" font-weight="bold">drover: one queue over N QueueObjects (shards)</text>`];
  parts.push(...grid(3, max, y, left, W - 20));
  points.forEach((p, gi) => {
    const x0 = left + gi * groupW + (groupW - barW * 2) / 2;
    [['drain', p.drain, '#f38020'], ['end to end', p.endToEnd, '#fab387']].forEach(([label, f, color], si) => {
      parts.push(...bar('shard-bar', x0 + si * barW, barW, f as Figure, y, top + plotH, color as string, `${p.shards} shard(s), ${label}`));
    });
    parts.push(`<text x="${left + gi * groupW + groupW / 2}" y="${top + plotH + 18}" text-anchor="middle">${p.shards} shard${p.shards > 1 ? 's' : ''}</text>`);
  });
  const ly = top + plotH + 40;
  parts.push(`<rect x="${left}" y="${ly - 10}" width="12" height="12" fill="#f38020"/><text x="${left + 18}" y="${ly}">drain</text>`);
  parts.push(`<rect x="${left + 120}" y="${ly - 10}" width="12" height="12" fill="#fab387"/><text x="${left + 138}" y="${ly}">end to end</text>`);
  return parts.join('\n');
}

/** Horizontal grid lines with their values, `steps` of them up to `max`. */
function grid(steps: number, max: number, y: (v: number) => number, left: number, right: number): string[] {
  return Array.from({ length: steps + 1 }, (_, i) => {
    const v = (max * i) / steps;
    return `<line x1="${left}" x2="${right}" y1="${y(v)}" y2="${y(v)}" stroke="#eee"/>\n<text x="${left - 6}" y="${y(v) + 4}" text-anchor="end" fill="#555">${Math.round(v).toLocaleString('en')}</text>`;
  });
}

/** One bar at the median, its min-max whisker, and its figure above. */
function bar(cls: string, x: number, width: number, f: Figure, y: (v: number) => number, base: number, color: string, label: string): string[] {
  const cx = x + width / 2;
  return [
    `<rect class="${cls}" x="${x + 2}" y="${y(f.median)}" width="${width - 4}" height="${base - y(f.median)}" fill="${color}"><title>${label}: ${Math.round(f.median)} tasks/s</title></rect>`,
    `<line x1="${cx}" x2="${cx}" y1="${y(f.min)}" y2="${y(f.max)}" stroke="#333"/>`,
    `<text x="${cx}" y="${y(f.max) - 4}" text-anchor="middle" font-size="10">${Math.round(f.median).toLocaleString('en')}</text>`,
  ];
}
