// The HTML shell shared by the run report and the comparison: one self-contained file that reads
// offline. uPlot's JS and CSS are inlined from node_modules, the chart data is embedded as JSON,
// and a Content-Security-Policy forbids loading anything from anywhere.
//
// The page checks itself: a first script collects errors (script errors, failed loads, CSP
// violations, console.error), and after the charts are drawn the page writes its render status
// into the DOM — on <body data-render=…>, on each chart's element (data points, inked pixels of
// the lines' colours) and in a visible line at the bottom — so a headless browser's --dump-dom
// can verify it, and a reader sees when a chart failed.
import { readFileSync } from 'node:fs';
import type { ChartSpec } from './chart-data';
import { esc, jsonForScript } from './format';

interface UplotAssets {
  js: string;
  css: string;
}

let assets: UplotAssets | null | undefined;

/** uPlot's JS and CSS (MIT; its licence kept as a comment), or null when uPlot is not installed. */
export function uplotAssets(): UplotAssets | null {
  if (assets !== undefined) return assets;
  try {
    const js = readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8');
    const css = readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8');
    let licence = '';
    try {
      licence = readFileSync(require.resolve('uplot/LICENSE'), 'utf8');
    } catch {
      licence = 'The MIT License (MIT). Copyright (c) 2022 Leon Sorokin';
    }
    // The banner names the project's URL; keep the name and version, not a link (no URL in the
    // page at all, so nothing can even suggest a fetch).
    const body = js.replace(/^\/\*!\s*https?:\/\/\S+\s*(\([^)]*\))?\s*\*\//, (_m, v: string) =>
      v ? `/*! uPlot ${v} */` : '/*! uPlot */',
    );
    assets = {
      js: `/*\n uPlot — github.com/leeoniya/uPlot\n${licence.replace(/\*\//g, '* /')}\n*/\n${body}`,
      css,
    };
  } catch {
    assets = null;
  }
  return assets;
}

/** Collects every error before anything else runs. */
const ERROR_CAPTURE = `
window.__forklabErrors = [];
window.addEventListener('error', function (e) {
  var t = e.target;
  var what = e.message || (t && (t.src || t.href) ? 'failed to load ' + (t.src || t.href) : 'error');
  window.__forklabErrors.push(String(what));
}, true);
window.addEventListener('unhandledrejection', function (e) {
  window.__forklabErrors.push('unhandled rejection: ' + String(e.reason));
});
document.addEventListener('securitypolicyviolation', function (e) {
  window.__forklabErrors.push('blocked by the page policy: ' + e.blockedURI);
});
(function () {
  var original = console.error;
  console.error = function () {
    window.__forklabErrors.push(Array.prototype.map.call(arguments, String).join(' '));
    return original.apply(console, arguments);
  };
})();
`;

/** Draws every chart of the embedded spec list, then writes the render status. */
const CHART_SCRIPT = `
(function () {
  var errors = window.__forklabErrors;
  var specs = JSON.parse(document.getElementById('forklab-charts').textContent || '[]');
  var drawn = [];
  function fmt(v) {
    if (v === null || v === undefined) return '';
    var a = Math.abs(v);
    if (a === 0) return '0';
    if (a >= 1000) return Math.round(v).toLocaleString('en-US');
    if (a >= 1) return String(Number(v.toFixed(2)));
    if (a >= 0.0001) return String(Number(v.toPrecision(2)));
    return v.toExponential(0);
  }
  function hex(c) {
    return [parseInt(c.slice(1, 3), 16), parseInt(c.slice(3, 5), 16), parseInt(c.slice(5, 7), 16)];
  }
  function shade(spec) {
    return function (u) {
      if (!spec.phases) return;
      var ctx = u.ctx;
      ctx.save();
      ctx.beginPath();
      ctx.rect(u.bbox.left, u.bbox.top, u.bbox.width, u.bbox.height);
      ctx.clip();
      spec.phases.forEach(function (p) {
        if (p.phase === 'load') return;
        var x0 = u.valToPos(p.from, 'x', true);
        var x1 = u.valToPos(p.to, 'x', true);
        ctx.fillStyle = p.phase === 'warmup' ? 'rgba(0,0,0,0.08)' : 'rgba(255,165,0,0.12)';
        ctx.fillRect(x0, u.bbox.top, Math.max(1, x1 - x0), u.bbox.height);
      });
      ctx.restore();
    };
  }
  specs.forEach(function (spec) {
    var el = document.getElementById('chart-' + spec.id);
    if (!el) { errors.push('no element for chart ' + spec.id); return; }
    try {
      if (typeof uPlot === 'undefined') throw new Error('uPlot is not available');
      var ticks = spec.xTicks;
      var tickLabel = function (v) {
        for (var i = 0; i < ticks.length; i++) if (ticks[i].value === v) return ticks[i].label;
        return '';
      };
      var opts = {
        width: Math.max(320, Math.min(el.clientWidth || 560, 900)),
        height: 230,
        legend: { live: false },
        cursor: { show: true },
        scales: { x: { time: false } },
        series: [{ label: spec.xLabel }].concat(spec.lines.map(function (l) {
          return {
            label: l.label,
            stroke: l.color,
            width: 2,
            dash: l.dash,
            spanGaps: false,
            points: { show: spec.x.length <= 40, size: 6, fill: l.color },
          };
        })),
        axes: [
          ticks
            ? {
                label: spec.xLabel,
                splits: function () { return ticks.map(function (t) { return t.value; }); },
                values: function (u, splits) { return splits.map(tickLabel); },
              }
            : { label: spec.xLabel },
          { label: spec.yLabel, size: 70, values: function (u, splits) { return splits.map(fmt); } },
        ],
        hooks: { drawClear: [shade(spec)] },
      };
      var data = [spec.x].concat(spec.lines.map(function (l) { return l.values; }));
      drawn.push({ spec: spec, el: el, u: new uPlot(opts, data, el) });
    } catch (e) {
      errors.push('chart ' + spec.id + ': ' + (e && e.message ? e.message : String(e)));
    }
  });
  // uPlot draws in a microtask; measure after it.
  setTimeout(function () {
    var inkedCharts = 0;
    drawn.forEach(function (d) {
      var points = 0;
      d.spec.lines.forEach(function (l) {
        l.values.forEach(function (v) { if (v !== null) points++; });
      });
      var ink = 0;
      try {
        var canvas = d.u.ctx.canvas;
        var px = d.u.ctx.getImageData(0, 0, canvas.width, canvas.height).data;
        var colours = d.spec.lines.map(function (l) { return hex(l.color); });
        for (var i = 0; i < px.length; i += 4) {
          if (px[i + 3] < 200) continue;
          for (var k = 0; k < colours.length; k++) {
            var c = colours[k];
            if (Math.abs(px[i] - c[0]) + Math.abs(px[i + 1] - c[1]) + Math.abs(px[i + 2] - c[2]) < 40) { ink++; break; }
          }
        }
      } catch (e) {
        errors.push('reading chart ' + d.spec.id + ': ' + e.message);
      }
      d.el.setAttribute('data-points', String(points));
      d.el.setAttribute('data-ink', String(ink));
      d.el.setAttribute('data-series', String(d.u.series.length - 1));
      d.el.setAttribute('data-length', String(d.u.data[0].length));
      if (points > 0 && ink > 0) inkedCharts++;
    });
    var body = document.body;
    body.setAttribute('data-charts-expected', String(specs.length));
    body.setAttribute('data-charts-drawn', String(drawn.length));
    body.setAttribute('data-charts-inked', String(inkedCharts));
    body.setAttribute('data-errors', String(errors.length));
    body.setAttribute('data-height', String(document.documentElement.scrollHeight));
    body.setAttribute('data-render', errors.length ? 'errors' : 'done');
    var status = document.getElementById('render-status');
    if (status) {
      status.textContent = errors.length
        ? 'Rendering problems: ' + errors.join(' | ')
        : specs.length + ' chart' + (specs.length === 1 ? '' : 's') + ' drawn.';
      status.className = errors.length ? 'render-status render-errors' : 'render-status';
    }
  }, 0);
})();
`;

const CSS = `
:root { --bad: #b3261e; --warn: #a15c00; --info: #2f5d8a; --ok: #1e7b34; --line: #ddd; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; color: #222;
  margin: 0 auto; padding: 16px 24px 48px; max-width: 1400px; background: #fff; }
h1 { font-size: 22px; margin: 8px 0 4px; }
h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 15px; margin: 18px 0 6px; }
h4 { font-size: 14px; margin: 12px 0 4px; }
p.lead { margin: 4px 0 12px; color: #444; max-width: 70em; }
.meta { color: #555; }
.badge { display: inline-block; padding: 0 7px; border-radius: 9px; font-size: 12px; font-weight: 600;
  color: #fff; vertical-align: 1px; }
.badge.bad, .badge.failed, .badge.interrupted { background: var(--bad); }
.badge.warn { background: var(--warn); }
.badge.info { background: var(--info); }
.badge.completed, .badge.ok { background: var(--ok); }
table { border-collapse: collapse; margin: 6px 0 12px; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid var(--line); padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f5f5f5; font-weight: 600; }
td.n { text-align: right; white-space: nowrap; }
tr.zero td.n { color: #999; }
table.kv th { width: 16em; }
ul.verdicts { list-style: none; padding: 0; margin: 0; }
ul.verdicts li { margin: 4px 0; padding: 6px 10px; border-left: 4px solid var(--info); background: #f6f8fb; }
ul.verdicts li.bad { border-color: var(--bad); background: #fdf1f0; }
ul.verdicts li.warn { border-color: var(--warn); background: #fdf6ec; }
ul.verdicts .where { font-weight: 600; }
.charts { display: flex; flex-wrap: wrap; gap: 12px 16px; }
.chart { width: 580px; }
.chart .title { font-weight: 600; margin: 4px 0; }
.note { color: #666; font-size: 13px; }
.bar { position: relative; height: 16px; min-width: 180px; background: #f0f0f0; border-radius: 2px; }
.bar > span { position: absolute; left: 0; top: 0; bottom: 0; background: #5b8fc7; border-radius: 2px; }
.bar.req > span { background: #7fb07f; }
.bar > em { position: relative; font-style: normal; font-size: 12px; padding-left: 4px; }
.swatch { display: inline-block; width: 18px; height: 10px; vertical-align: middle; margin: 0 4px 0 10px; }
.render-status { margin-top: 24px; color: #666; font-size: 12px; }
.render-errors { color: var(--bad); font-weight: 600; }
.diff-real { font-weight: 700; }
.diff-real.better { color: var(--ok); }
.diff-real.worse { color: var(--bad); }
.diff-noise { color: #777; }
.diff-unknown { color: #a15c00; }
pre { background: #f7f7f7; padding: 8px; overflow-x: auto; font-size: 12px; }
a { color: #1a5fb4; }
@media print { .chart { break-inside: avoid; } }
`;

export interface PageInput {
  title: string;
  /** HTML of the body (already escaped). */
  body: string;
  charts: readonly ChartSpec[];
}

/** The chart's placeholder: its title, and the element uPlot draws into. */
export function chartBox(spec: ChartSpec, note = ''): string {
  return `<div class="chart"><div class="title">${esc(spec.title)}</div><div class="plot" id="chart-${esc(spec.id)}" data-chart="${esc(spec.id)}"></div>${note ? `<div class="note">${note}</div>` : ''}</div>`;
}

/** A complete, self-contained HTML document. */
export function htmlPage(p: PageInput): string {
  const ua = uplotAssets();
  const charts = ua ? p.charts : [];
  const noCharts =
    !ua && p.charts.length > 0
      ? '<p class="render-errors">Charts left out: the uplot package is not installed where this report was made.</p>'
      : '';
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<title>${esc(p.title)}</title>
<script>${ERROR_CAPTURE}</script>
<style>${ua ? ua.css : ''}</style>
<style>${CSS}</style>
</head>
<body>
${noCharts}${p.body}
<div id="render-status" class="render-status">${charts.length ? 'Charts need JavaScript.' : 'No charts.'}</div>
<script type="application/json" id="forklab-charts">${jsonForScript(charts)}</script>
${ua ? `<script>${ua.js}</script>\n<script>${CHART_SCRIPT}</script>` : ''}
</body>
</html>
`;
}
