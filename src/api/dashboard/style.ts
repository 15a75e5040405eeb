// The dashboard's style sheet, served as /dashboard.css: light and dark themes, and layouts from 360 to 2560 px wide.
// Colours are picked for axe-core's contrast rule (4.5:1 for text) in both themes.

export const dashboardStyle = String.raw`
:root{--bg:#f4f6f9;--card:#fff;--ink:#1b2230;--muted:#545d6e;--line:#d9dee7;--accent:#2946b8;--ok:#1b7a34;--bad:#b42323;--warn:#9a4a00;--wait:#5b6470;--soft:#eef1f6;--focus:#1c5fd6;color-scheme:light}
:root[data-theme=dark]{--bg:#0e1217;--card:#161b23;--ink:#e5e9f0;--muted:#a5aebd;--line:#2c3440;--accent:#93a9ff;--ok:#62d37f;--bad:#ff8f8f;--warn:#ffb45e;--wait:#b3bac6;--soft:#202733;--focus:#9cc0ff;color-scheme:dark}
*{box-sizing:border-box}
body{margin:0;font:14px/1.5 system-ui,-apple-system,Segoe UI,sans-serif;background:var(--bg);color:var(--ink);overflow-wrap:anywhere}
a{color:var(--accent)}
:focus-visible{outline:3px solid var(--focus);outline-offset:2px}
.skip{position:absolute;left:-999px;top:0;background:var(--card);padding:.5rem 1rem;z-index:10}.skip:focus{left:.5rem}
header{display:flex;flex-wrap:wrap;align-items:center;gap:.5rem 1rem;padding:.6rem 1rem;background:var(--card);border-bottom:1px solid var(--line)}
header .brand{font-size:18px;font-weight:600;margin:0;color:var(--ink);text-decoration:none}
#live{font-size:12px;color:var(--muted)}#live.on{color:var(--ok)}
.grow{flex:1}
nav ul{list-style:none;display:flex;flex-wrap:wrap;gap:.25rem;margin:0;padding:0}
nav a{display:block;padding:.3rem .6rem;border-radius:6px;text-decoration:none;color:var(--ink)}
nav a[aria-current=page]{background:var(--soft);color:var(--accent);font-weight:600}
#menu{display:none}
main{padding:1rem;max-width:1800px;margin:0 auto}
h1{font-size:20px;margin:.2rem 0 1rem}h1[tabindex="-1"]:focus{outline:none}
h2{font-size:13px;text-transform:uppercase;letter-spacing:.08em;color:var(--muted);margin:0 0 .7rem}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(440px,100%),1fr));gap:1rem}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:1rem;min-width:0;margin-bottom:1rem}
.scroll{overflow-x:auto;max-width:100%}
table{width:100%;border-collapse:collapse}
th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid var(--line);font-variant-numeric:tabular-nums;vertical-align:top}
th{font-weight:600;color:var(--muted);font-size:12px}
td.n,th.n{text-align:right}
button,.button{font:inherit;font-size:13px;border:1px solid var(--line);background:var(--soft);color:var(--ink);border-radius:6px;padding:.25rem .7rem;cursor:pointer;text-decoration:none;display:inline-block}
button:hover{border-color:var(--accent)}button.danger{color:var(--bad);border-color:var(--bad)}
input,select{font:inherit;background:var(--card);color:var(--ink);border:1px solid var(--muted);border-radius:6px;padding:.3rem .5rem;max-width:100%}
form.filters{display:flex;flex-wrap:wrap;gap:.6rem;align-items:end}
form.filters label,.field{display:flex;flex-direction:column;font-size:12px;color:var(--muted)}
.actions{display:flex;flex-wrap:wrap;gap:.4rem;align-items:center;margin:.5rem 0}
.pill{display:inline-block;border-radius:999px;padding:0 .55rem;font-size:12px;background:var(--soft);white-space:nowrap}
.muted{color:var(--muted)}.notice{color:var(--muted);font-style:italic}
.succeeded,.alive{color:var(--ok)}.failed,.gone,.error{color:var(--bad)}.running{color:var(--accent)}.delayed,.stale,.retry,.expired{color:var(--warn)}.queued,.pending,.revoked,.released{color:var(--wait)}
pre{background:var(--soft);border-radius:6px;padding:.6rem;overflow:auto;max-height:20rem;font-size:12px;white-space:pre-wrap}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:0}dl.facts dt{color:var(--muted)}dl.facts dd{margin:0;min-width:0}
#login{max-width:420px;margin:15vh auto}#login input{width:100%;margin:.4rem 0 .8rem}
.legend{display:flex;flex-wrap:wrap;gap:.3rem 1rem;font-size:12px;margin-top:.4rem}.legend i{display:inline-block;width:12px;height:4px;margin-right:.3rem;vertical-align:middle;background:currentColor}
svg.chart{width:100%;height:220px;display:block}
svg .axis{stroke:var(--muted);stroke-width:1}svg .gridline{stroke:var(--line);stroke-width:1}
svg text{fill:var(--muted);font-size:11px}
svg .line{fill:none;stroke-width:2}
svg .s-succeeded{stroke:var(--ok)}svg .s-failed{stroke:var(--bad)}svg .s-p50{stroke:var(--ok)}svg .s-p95{stroke:var(--warn)}svg .s-p99{stroke:var(--bad)}
.k-succeeded,.k-p50{color:var(--ok)}.k-failed,.k-p99{color:var(--bad)}.k-p95{color:var(--warn)}
.bar{height:8px;background:var(--accent);border-radius:4px;min-width:2px}
svg.graph{display:block;min-width:100%}svg.graph.fit{min-width:0;max-width:100%;height:auto}
svg.graph rect{fill:var(--card);stroke-width:2}svg.graph text{fill:var(--ink);font-size:12px}svg.graph .edge{stroke:var(--muted);fill:none}
svg.graph .n-succeeded rect{stroke:var(--ok)}svg.graph .n-failed rect{stroke:var(--bad)}svg.graph .n-running rect{stroke:var(--accent)}
svg.graph .n-pending rect,svg.graph .n-queued rect,svg.graph .n-revoked rect{stroke:var(--wait);stroke-dasharray:4 3}svg.graph .n-delayed rect,svg.graph .n-expired rect{stroke:var(--warn)}
svg.graph a:focus-visible rect{stroke:var(--focus);stroke-width:4}
ol.timeline{list-style:none;margin:0;padding:0 0 0 1rem;border-left:2px solid var(--line)}ol.timeline li{margin:0 0 .7rem;position:relative}
ol.timeline li::before{content:"";position:absolute;left:-1.42rem;top:.45rem;width:10px;height:10px;border-radius:50%;background:currentColor}
.confirm{border:1px solid var(--bad);border-radius:8px;padding:.5rem .7rem;margin:.5rem 0}
@media (max-width:700px){
  #menu{display:inline-block}nav{flex-basis:100%}nav[data-open=false] ul{display:none}nav ul{flex-direction:column}
  main{padding:.6rem}.card{padding:.7rem}
  table.stack thead{position:absolute;left:-9999px}
  table.stack,table.stack tbody,table.stack tr,table.stack td{display:block;width:100%}
  table.stack tr{border-bottom:1px solid var(--line);padding:.3rem 0}
  table.stack td{border:0;padding:.1rem 0;text-align:left}
  table.stack td[data-label]::before{content:attr(data-label) ": ";color:var(--muted);font-size:12px}
}
`;
