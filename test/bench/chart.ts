// The throughput comparison as an SVG bar chart: one group per scenario, one bar per system.
import type { Result, ShardPoint } from './run.ts';

const COLORS: Record<string, string> = { drover: '#f38020', bullmq: '#d6336c', celery: '#37b24d' };
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
  parts.push(`<text x="${left}" y="40" fill="#555">${esc(result.machine)} · ${esc(result.date)}${result.quick ? ' · quick mode (small N)' : ''}</text>`);
  // Grid and axis.
  for (let i = 0; i <= 5; i++) {
    const v = (max * i) / 5;
    parts.push(`<line x1="${left}" x2="${W - 20}" y1="${y(v)}" y2="${y(v)}" stroke="#eee"/>`);
    parts.push(`<text x="${left - 6}" y="${y(v) + 4}" text-anchor="end" fill="#555">${Math.round(v).toLocaleString('en')}</text>`);
  }
  parts.push(`<text transform="translate(16 ${top + plotH / 2}) rotate(-90)" text-anchor="middle" fill="#555">tasks per second</text>`);
  scenarios.forEach((s, gi) => {
    const x0 = left + gi * groupW + (groupW - barW * systems.length) / 2;
    systems.forEach((name, si) => {
      const f = s.figures[name];
      if (!f) return;
      const x = x0 + si * barW;
      parts.push(`<rect class="bar" x="${x + 2}" y="${y(f.median)}" width="${barW - 4}" height="${top + plotH - y(f.median)}" fill="${COLORS[name] ?? '#888'}"><title>${name}: ${Math.round(f.median)} tasks/s</title></rect>`);
      const cx = x + barW / 2;
      parts.push(`<line x1="${cx}" x2="${cx}" y1="${y(f.min)}" y2="${y(f.max)}" stroke="#333"/>`);
      parts.push(`<text x="${cx}" y="${y(f.max) - 4}" text-anchor="middle" font-size="10">${Math.round(f.median).toLocaleString('en')}</text>`);
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
  for (let i = 0; i <= 3; i++) {
    const v = (max * i) / 3;
    parts.push(`<line x1="${left}" x2="${W - 20}" y1="${y(v)}" y2="${y(v)}" stroke="#eee"/>`);
    parts.push(`<text x="${left - 6}" y="${y(v) + 4}" text-anchor="end" fill="#555">${Math.round(v).toLocaleString('en')}</text>`);
  }
  points.forEach((p, gi) => {
    const x0 = left + gi * groupW + (groupW - barW * 2) / 2;
    [['drain', p.drain, '#f38020'], ['end to end', p.endToEnd, '#fab387']].forEach(([label, f, color], si) => {
      const fig = f as ShardPoint['drain'];
      const x = x0 + si * barW;
      const cx = x + barW / 2;
      parts.push(`<rect class="shard-bar" x="${x + 2}" y="${y(fig.median)}" width="${barW - 4}" height="${top + plotH - y(fig.median)}" fill="${color}"><title>${p.shards} shard(s), ${label}: ${Math.round(fig.median)} tasks/s</title></rect>`);
      parts.push(`<line x1="${cx}" x2="${cx}" y1="${y(fig.min)}" y2="${y(fig.max)}" stroke="#333"/>`);
      parts.push(`<text x="${cx}" y="${y(fig.max) - 4}" text-anchor="middle" font-size="10">${Math.round(fig.median).toLocaleString('en')}</text>`);
    });
    parts.push(`<text x="${left + gi * groupW + groupW / 2}" y="${top + plotH + 18}" text-anchor="middle">${p.shards} shard${p.shards > 1 ? 's' : ''}</text>`);
  });
  const ly = top + plotH + 40;
  parts.push(`<rect x="${left}" y="${ly - 10}" width="12" height="12" fill="#f38020"/><text x="${left + 18}" y="${ly}">drain</text>`);
  parts.push(`<rect x="${left + 120}" y="${ly - 10}" width="12" height="12" fill="#fab387"/><text x="${left + 138}" y="${ly}">end to end</text>`);
  return parts.join('\n');
}
