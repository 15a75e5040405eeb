// The dashboard script's line chart: SVG drawn with DOM calls, with axes, ticks and a legend; colours come from
// the theme's classes, so a theme switch needs no redraw.

export const chart = String.raw`
// lineChart(box, {label, times: [ms], series: [{key, name, values}], unit, whole}) (whole: counts, so whole ticks) draws into box (replacing what was there).
function lineChart(box, o) {
  clear(box);
  var W = Math.max(280, box.clientWidth || 600), H = 220, L = 48, R = 12, T = 10, B = 28;
  var max = 0;
  o.series.forEach(function (s) { s.values.forEach(function (v) { if (v != null && v > max) max = v; }); });
  var step = o.whole ? Math.max(1, niceStep(max || 1)) : niceStep(max || 1), top = Math.max(step * 4, Math.ceil(max / step) * step);
  var svg = h('svg:svg', { class: 'chart', viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-label': o.label, width: W, height: H });
  var x = function (i) { return L + (W - L - R) * (o.times.length < 2 ? 0 : i / (o.times.length - 1)); };
  var y = function (v) { return T + (H - T - B) * (1 - v / top); };
  for (var g = 0; g <= top; g += step) {
    svg.appendChild(h('svg:line', { class: 'gridline', x1: L, x2: W - R, y1: y(g), y2: y(g) }));
    svg.appendChild(h('svg:text', { x: L - 6, y: y(g) + 4, 'text-anchor': 'end' }, short(g)));
  }
  svg.appendChild(h('svg:line', { class: 'axis', x1: L, x2: L, y1: T, y2: H - B }));
  svg.appendChild(h('svg:line', { class: 'axis', x1: L, x2: W - R, y1: H - B, y2: H - B }));
  var ticks = Math.max(2, Math.min(7, Math.floor((W - L - R) / 90)));
  for (var k = 0; k < ticks; k++) {
    var i = Math.round(k * (o.times.length - 1) / (ticks - 1));
    if (o.times[i] === undefined) continue;
    svg.appendChild(h('svg:text', { x: x(i), y: H - 8, 'text-anchor': k === 0 ? 'start' : k === ticks - 1 ? 'end' : 'middle' }, clock(o.times[i])));
  }
  o.series.forEach(function (s) {
    var d = '', pen = false;
    s.values.forEach(function (v, i) {
      if (v == null) { pen = false; return; }
      d += (pen ? 'L' : 'M') + x(i).toFixed(1) + ' ' + y(v).toFixed(1); pen = true;
    });
    if (d) svg.appendChild(h('svg:path', { class: 'line s-' + s.key, d: d }));
    // A value with no neighbour draws no line: a dot shows it.
    s.values.forEach(function (v, i) {
      if (v != null && s.values[i - 1] == null && s.values[i + 1] == null) svg.appendChild(h('svg:circle', { class: 'line s-' + s.key, cx: x(i), cy: y(v), r: 2 }));
    });
  });
  box.appendChild(svg);
  box.appendChild(h('div', { class: 'legend' }, o.series.map(function (s) {
    return h('span', { class: 'k-' + s.key }, h('i', { 'aria-hidden': 'true' }), h('span', { class: 'legend-text' }, s.name));
  }), o.unit ? h('span', { class: 'muted' }, o.unit) : null));
}
function niceStep(max) {
  var raw = max / 4, p = Math.pow(10, Math.floor(Math.log10(raw))), n = raw / p;
  return (n <= 1 ? 1 : n <= 2 ? 2 : n <= 5 ? 5 : 10) * p;
}
function short(v) { return v >= 1e6 ? (v / 1e6) + 'M' : v >= 1e3 ? (v / 1e3) + 'k' : String(Math.round(v * 100) / 100); }
function clock(ms) { var d = new Date(ms); return String(d.getHours()).padStart(2, '0') + ':' + String(d.getMinutes()).padStart(2, '0'); }
`;
