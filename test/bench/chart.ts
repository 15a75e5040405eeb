// The throughput comparison as an SVG bar chart: one group per scenario, one bar per system.
import type { Result } from './run.ts';

const COLORS: Record<string, string> = { drover: '#f38020', bullmq: '#d6336c', celery: '#37b24d' };
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

export function throughputChart(result: Result): string {
  const scenarios = result.scenarios.filter((s) => s.unit === 'tasks/s');
  const systems = result.systems.map((s) => s.name);
  const max = Math.max(1, ...scenarios.flatMap((s) => systems.map((n) => s.figures[n]?.max ?? 0)));
  const W = 860;
  const H = 420;
  const left = 70;
  const top = 56;
  const bottom = 70;
  const plotH = H - top - bottom;
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
    parts.push(`<rect x="${x}" y="${H - 26}" width="12" height="12" fill="${COLORS[name] ?? '#888'}"/><text x="${x + 18}" y="${H - 16}">${esc(name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}
