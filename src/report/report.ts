// `schedlab report <dir>`: one self-contained HTML page (inline SVG plots, inline CSS and JS, no
// network) summarising a sweep's result set.
import { join } from 'node:path';
import { readAllRows } from '../sweep/database.js';
import { FILES, readManifest, type Manifest, type Row } from '../sweep/results.js';
import { assertWritableFile, writeAtomic } from '../write-atomic.js';
import { buildPlots, policyOf, type Plot } from './plots.js';
import { formatCell } from './table.js';

export const TABLE_ROW_LIMIT = 5000;

const TABLE_METRICS = [
  'ttft_ms_p50',
  'ttft_ms_p99',
  'tpot_ms_p99',
  'e2e_ms_p99',
  'throughput_output_tokens_per_s',
  'preemptions',
  'kv_utilization_mean',
  'slo_attainment',
  'rejected',
  'engine',
];

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function varyingParams(columns: string[], rows: Row[]): string[] {
  const end = columns.indexOf('requests');
  return columns
    .slice(2, end < 0 ? columns.length : end)
    .filter((c) => c !== 'trace_path' && new Set(rows.map((r) => r[c])).size > 1);
}

function table(columns: string[], rows: Row[]): string {
  const params = varyingParams(columns, rows);
  const metrics = TABLE_METRICS.filter((m) => columns.includes(m));
  // The hit rate only where some configuration cached prefixes.
  if (rows.some((r) => (r.prefix_cache_lookups as number) > 0)) metrics.splice(metrics.indexOf('engine'), 0, 'prefix_cache_hit_rate_tokens');
  const cols = ['config_index', ...(params.length ? params : ['router', 'scheduler']), ...metrics];
  const shown = rows.slice(0, TABLE_ROW_LIMIT);
  const head = cols.map((c, i) => `<th data-col="${i}" title="click to sort">${esc(c)}</th>`).join('');
  const body = shown
    .map((r) => `<tr>${cols.map((c) => {
      const v = r[c] ?? null;
      return typeof v === 'number' ? `<td class="n" data-v="${v}">${esc(formatCell(v))}</td>` : `<td>${esc(formatCell(v))}</td>`;
    }).join('')}</tr>`)
    .join('\n');
  const note = rows.length > shown.length ? `<p class="note">First ${shown.length} of ${rows.length} configurations, by config index; query the rest with <code>schedlab query</code>.</p>` : '';
  return `${note}<table id="results" class="sortable"><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

const CSS = `
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:1200px;padding:0 1rem;color:#222}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2rem}
.meta{color:#555;font-size:.9rem}.meta td{padding:0 1rem 0 0}
figure{margin:1rem 0;overflow-x:auto}figcaption{color:#555;font-size:.9rem;max-width:60rem}
table.sortable{border-collapse:collapse;font-size:.8rem;margin-top:.5rem}
table.sortable th,table.sortable td{border-bottom:1px solid #e4e4e4;padding:.2rem .5rem;white-space:nowrap}
table.sortable th{cursor:pointer;background:#f6f6f6;position:sticky;top:0;text-align:left}
table.sortable th.asc::after{content:" \\25B2"}table.sortable th.desc::after{content:" \\25BC"}
td.n{text-align:right;font-variant-numeric:tabular-nums}.note{color:#a60}
.tablewrap{max-height:36rem;overflow:auto;border:1px solid #e4e4e4}
`;

// Sorts the table by a clicked column: numbers by value, text alphabetically; a second click reverses.
const SORT_JS = `
(function(){
  var t=document.getElementById('results'); if(!t) return;
  var ths=t.tHead.rows[0].cells;
  for (var i=0;i<ths.length;i++) ths[i].addEventListener('click', function(e){
    var th=e.currentTarget, col=+th.getAttribute('data-col'), asc=!th.classList.contains('asc');
    for (var j=0;j<ths.length;j++) ths[j].classList.remove('asc','desc');
    th.classList.add(asc?'asc':'desc');
    var body=t.tBodies[0], rows=Array.prototype.slice.call(body.rows);
    rows.sort(function(a,b){
      var x=a.cells[col], y=b.cells[col], xv=x.getAttribute('data-v'), yv=y.getAttribute('data-v'), d;
      if (xv!==null && yv!==null) d=(+xv)-(+yv); else d=x.textContent.localeCompare(y.textContent);
      return asc?d:-d;
    });
    rows.forEach(function(r){body.appendChild(r);});
  });
})();
`;

export function renderHtml(manifest: Manifest, columns: string[], rows: Row[], plots: Plot[]): string {
  const title = `schedlab sweep report${manifest.name ? `: ${manifest.name}` : ''}`;
  const policies = new Set(rows.map(policyOf)).size;
  const engines = [...new Set(rows.map((r) => String(r.engine)))].join(', ');
  const meta: [string, string][] = [
    ['configurations', String(rows.length)],
    ['policies (router + scheduler)', String(policies)],
    ['engine', `${engines}${manifest.backend ? ` (${manifest.backend.description})` : ''}`],
    ['spec', manifest.spec_path ?? ''],
  ];
  if (manifest.wall_s !== undefined) meta.push(['wall time', `${manifest.wall_s.toFixed(1)} s`]);
  const figures = plots
    .map((p) => `<section id="${p.id}"><h2>${esc(p.title)}</h2><figure>${p.svg}<figcaption>${esc(p.caption)}</figcaption></figure></section>`)
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(title)}</title><style>${CSS}</style></head>
<body>
<h1>${esc(title)}</h1>
<table class="meta">${meta.map(([k, v]) => `<tr><td>${esc(k)}</td><td>${esc(v)}</td></tr>`).join('')}</table>
${figures}
<section id="table"><h2>All configurations</h2><p class="meta">Click a column header to sort.</p><div class="tablewrap">${table(columns, rows)}</div></section>
<script>${SORT_JS}</script>
</body></html>
`;
}

/** Writes the report (default <dir>/report.html) atomically and returns its path. */
export async function writeReport(dir: string, o: { out?: string } = {}): Promise<string> {
  const manifest = readManifest(dir);
  const out = o.out ?? join(dir, FILES.report);
  assertWritableFile(out, o.out ? '--out' : 'report');
  const { columns, rows } = await readAllRows(dir);
  const plots = rows.length ? await buildPlots(rows) : [];
  writeAtomic(out, renderHtml(manifest, columns, rows, plots));
  return out;
}
