/**
 * report.html: one self-contained file (inline style and script, no assets,
 * no network) that opens from disk. Everything is rendered here, so the page
 * reads the same without script; the script only filters.
 */
import type { CheckReport, ScenarioResult } from './runner.js';
import type { Finding } from './findings.js';
import type { JournalEntry } from '../control/journal.js';
import { findingCounts } from './report.js';

function esc(text: unknown): string {
  return String(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

function statusClass(entry: JournalEntry): string {
  if (entry.status === 0 || !entry.completed) return 's-cut';
  if (entry.status >= 500) return 's-5xx';
  if (entry.status >= 400) return 's-4xx';
  if (entry.status >= 300) return 's-3xx';
  return 's-2xx';
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** A scenario's id in the page (names are `[a-z0-9-]`, but nothing is assumed). */
const anchor = (name: string) => `s-${name.replace(/[^A-Za-z0-9-]/g, '_')}`;

function badge(result: ScenarioResult): string {
  const text = result.timedOut ? 'TIMEOUT' : result.result.toUpperCase();
  return `<span class="badge ${result.result}">${text}</span>`;
}

function matrix(report: CheckReport): string {
  const rows = report.results.map((r) => {
    const rules = [...new Set(r.findings.map((f) => f.rule))].join(' ');
    return `<tr class="scenario-row" data-scenario="${esc(r.name)}" data-rules="${esc(rules)}" data-result="${r.result}">
<td><a href="#${anchor(r.name)}">${esc(r.name)}</a></td><td>${badge(r)}</td><td class="num">${r.exitCode ?? '—'}</td>
<td class="num">${r.requests.length}</td><td>${esc(findingCounts(r))}</td><td class="num">${(r.durationMs / 1000).toFixed(1)}</td><td class="summary">${esc(r.summary)}</td></tr>`;
  });
  return `<table id="matrix"><thead><tr><th>scenario</th><th>result</th><th>exit</th><th>requests</th><th>findings</th><th>seconds</th><th>what the registry does</th></tr></thead>
<tbody>${rows.join('\n')}</tbody></table>`;
}

function findingList(findings: Finding[]): string {
  if (findings.length === 0) return '';
  const items = findings.map(
    (f) => `<li class="finding sev-${f.severity}" data-rule="${esc(f.rule)}"><span class="sev">${f.severity}</span> <b>${esc(f.rule)}</b> <a href="#" class="seq-link" data-seq="${f.seq}">request ${f.seq}</a>: ${esc(f.message)} <span class="source">${esc(f.source)}</span></li>`,
  );
  return `<ul class="findings">${items.join('')}</ul>`;
}

function timeline(result: ScenarioResult): string {
  const entries = result.requests;
  if (entries.length === 0) return '<p class="empty">No requests reached the registry.</p>';
  const t0 = Math.min(...entries.map((e) => e.at));
  const t1 = Math.max(...entries.map((e) => e.at + e.durationMs));
  const span = Math.max(1, Math.ceil(t1 - t0));
  const bySeq = new Map<number, Finding[]>();
  for (const f of result.findings) bySeq.set(f.seq, [...(bySeq.get(f.seq) ?? []), f]);
  const rows = entries.map((e) => {
    const found = bySeq.get(e.seq) ?? [];
    const left = ((e.at - t0) / span) * 100;
    const width = Math.max(0.4, (e.durationMs / span) * 100);
    const title = `#${e.seq} ${e.method} ${e.path}\nstatus ${e.status}${e.code ? ` ${e.code}` : ''}${e.completed ? '' : ' (connection closed early)'}\n${bytes(e.bytesIn)} in, ${bytes(e.bytesOut)} out, ${e.durationMs.toFixed(1)} ms at +${e.at - t0} ms${e.fault ? `\nfault ${e.fault}` : ''}${found.map((f) => `\n${f.severity} ${f.rule}: ${f.message}`).join('')}`;
    const marks = `${e.fault ? `<span class="mark fault" title="fault ${esc(e.fault)}">⚡${esc(e.fault)}</span>` : ''}${found.map((f) => `<span class="mark sev-${f.severity}" title="${esc(f.message)}">● ${esc(f.rule)}</span>`).join('')}`;
    return `<tr class="req ${statusClass(e)}${found.length ? ' has-finding' : ''}" id="${anchor(result.name)}-r${e.seq}" data-seq="${e.seq}" data-rules="${esc(found.map((f) => f.rule).join(' '))}" title="${esc(title)}">
<td class="num">${e.seq}</td><td class="num">+${e.at - t0}</td><td>${esc(e.method)}</td><td class="path">${esc(e.path)}</td><td class="num status">${e.status}</td><td class="num">${esc(bytes(e.bytesIn))}</td><td class="num">${esc(bytes(e.bytesOut))}</td><td class="num">${e.durationMs.toFixed(1)}</td>
<td class="bar-cell"><div class="track"><div class="bar" style="left:${left.toFixed(2)}%;width:${Math.min(width, 100 - left).toFixed(2)}%"></div></div>${marks}</td></tr>`;
  });
  return `<table class="timeline"><thead><tr><th>#</th><th>+ms</th><th>method</th><th>path</th><th>status</th><th>in</th><th>out</th><th>ms</th>
<th class="axis-head"><span>0</span><span>${Math.round(span / 2)} ms</span><span>${span} ms</span></th></tr></thead><tbody>${rows.join('\n')}</tbody></table>`;
}

function section(result: ScenarioResult): string {
  const rules = [...new Set(result.findings.map((f) => f.rule))].join(' ');
  const faults = result.faults.map((f) => `${f.id} applied ${f.hits}×`).join(', ');
  return `<section class="scenario" id="${anchor(result.name)}" data-scenario="${esc(result.name)}" data-rules="${esc(rules)}" data-result="${result.result}">
<h2>${esc(result.name)} ${badge(result)}</h2>
<dl><dt>registry</dt><dd>${esc(result.summary)}</dd><dt>a good client</dt><dd>${esc(result.expects)}${result.expectation === 'succeed-or-fail' ? ' (failing cleanly is acceptable)' : ''}</dd>
<dt>source</dt><dd>${esc(result.source)}</dd><dt>client</dt><dd>exit ${result.exitCode ?? '— (killed)'} after ${(result.durationMs / 1000).toFixed(1)} s, repository <code>${esc(result.repository)}</code>${faults ? `; ${esc(faults)}` : ''}</dd></dl>
${result.reasons.length ? `<ul class="reasons">${result.reasons.map((r) => `<li>${esc(r)}</li>`).join('')}</ul>` : ''}
${findingList(result.findings)}
${timeline(result)}
${result.output.trim() ? `<details><summary>client output</summary><pre>${esc(result.output)}</pre></details>` : ''}
</section>`;
}

const STYLE = `
:root{--ok:#1a7f37;--bad:#cf222e;--warn:#9a6700;--muted:#57606a;--line:#d0d7de;font-family:system-ui,-apple-system,"Segoe UI",sans-serif;font-size:14px;color:#1f2328}
body{margin:0;padding:16px 24px;background:#fff}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:0 0 8px;display:flex;gap:8px;align-items:center}
.meta{color:var(--muted);margin:0 0 12px}.meta code{background:#f6f8fa;padding:1px 4px;border-radius:4px}
.filters{display:flex;gap:16px;align-items:center;margin:12px 0;padding:8px 12px;background:#f6f8fa;border:1px solid var(--line);border-radius:6px}
table{border-collapse:collapse;width:100%}th,td{padding:3px 8px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
th{font-weight:600;background:#f6f8fa;position:sticky;top:0}.num{text-align:right;font-variant-numeric:tabular-nums}
#matrix td.summary{color:var(--muted)}
.badge{font-size:11px;font-weight:700;padding:1px 6px;border-radius:10px;color:#fff}.badge.pass{background:var(--ok)}.badge.fail{background:var(--bad)}
section.scenario{margin:24px 0;padding:12px 16px;border:1px solid var(--line);border-radius:6px}
section.scenario[data-result=fail]{border-left:4px solid var(--bad)}section.scenario[data-result=pass]{border-left:4px solid var(--ok)}
dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:0 0 8px}dt{color:var(--muted)}dd{margin:0}
.reasons{color:var(--bad);margin:4px 0}.findings{margin:4px 0;padding-left:18px}.finding .source{color:var(--muted);font-size:12px}
.sev{font-size:11px;font-weight:700;padding:0 4px;border-radius:3px;color:#fff}
.sev-MUST .sev,.mark.sev-MUST{background:var(--bad);color:#fff}.sev-SHOULD .sev,.mark.sev-SHOULD{background:var(--warn);color:#fff}.sev-info .sev,.mark.sev-info{background:var(--muted);color:#fff}
.timeline{font-size:12px;table-layout:auto}.timeline td.path{font-family:ui-monospace,monospace;word-break:break-all;max-width:420px}
.timeline .bar-cell{width:32%;min-width:200px}.track{position:relative;height:12px;background:#f6f8fa;border-radius:2px}
.bar{position:absolute;top:0;height:12px;border-radius:2px;min-width:2px}
.axis-head{display:flex;justify-content:space-between;font-weight:400;color:var(--muted)}
.s-2xx .bar{background:#2da44e}.s-3xx .bar{background:#0969da}.s-4xx .bar{background:#d4a72c}.s-5xx .bar{background:#cf222e}.s-cut .bar{background:repeating-linear-gradient(45deg,#8250df,#8250df 3px,#c297ff 3px,#c297ff 6px)}
.s-4xx .status{color:var(--warn)}.s-5xx .status,.s-cut .status{color:var(--bad);font-weight:700}
tr.has-finding{background:#fff8c5}tr.req.dim{opacity:.3}tr.req.flash{outline:2px solid #0969da}
.mark{display:inline-block;font-size:11px;margin:2px 4px 0 0;padding:0 4px;border-radius:3px}.mark.fault{background:#8250df;color:#fff}
.legend{display:flex;gap:12px;font-size:12px;color:var(--muted)}.legend i{display:inline-block;width:12px;height:10px;margin-right:4px;border-radius:2px;vertical-align:middle}
pre{background:#f6f8fa;padding:8px;overflow:auto;max-height:320px;font-size:12px}
.hidden{display:none}
`;

/** Filters: by scenario, by finding rule, failures only. Uses nothing outside the page. */
const SCRIPT = `
(function () {
  var scenario = document.getElementById('filter-scenario');
  var rule = document.getElementById('filter-rule');
  var failed = document.getElementById('filter-failed');
  function has(el, r) { return (' ' + (el.getAttribute('data-rules') || '') + ' ').indexOf(' ' + r + ' ') !== -1; }
  function apply() {
    var s = scenario.value, r = rule.value, f = failed.checked;
    var blocks = document.querySelectorAll('[data-scenario]');
    for (var i = 0; i < blocks.length; i++) {
      var el = blocks[i];
      var show = (!s || el.getAttribute('data-scenario') === s) && (!r || has(el, r)) && (!f || el.getAttribute('data-result') === 'fail');
      el.classList.toggle('hidden', !show);
    }
    var rows = document.querySelectorAll('tr.req');
    for (var j = 0; j < rows.length; j++) rows[j].classList.toggle('dim', !!r && !has(rows[j], r));
  }
  scenario.addEventListener('change', apply);
  rule.addEventListener('change', apply);
  failed.addEventListener('change', apply);
  document.addEventListener('click', function (event) {
    var link = event.target.closest && event.target.closest('.seq-link');
    if (!link) return;
    event.preventDefault();
    var section = link.closest('section');
    var row = section && section.querySelector('tr.req[data-seq="' + link.getAttribute('data-seq') + '"]');
    if (!row) return;
    row.scrollIntoView({ block: 'center' });
    row.classList.add('flash');
    setTimeout(function () { row.classList.remove('flash'); }, 1500);
  });
  apply();
  // Lets a test (or a person) see that the script ran to the end.
  document.documentElement.setAttribute('data-ready', 'true');
})();
`;

/** The whole page. */
export function renderHtml(report: CheckReport): string {
  const rules = [...new Set(report.results.flatMap((r) => r.findings.map((f) => f.rule)))].sort();
  const findings = report.results.reduce((n, r) => n + r.findings.length, 0);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>oci-test-registry check: ${report.passed}/${report.results.length} passed</title>
<style>${STYLE}</style></head>
<body>
<h1>oci-test-registry check</h1>
<p class="meta">${report.command ? `<code>${esc(report.command.join(' '))}</code> · ` : ''}${esc(new Date(report.startedAt).toISOString())} · <b id="summary">${report.passed} of ${report.results.length} scenarios passed, ${report.failed} failed, ${findings} finding${findings === 1 ? '' : 's'}</b> · ${(report.durationMs / 1000).toFixed(1)} s</p>
<div class="filters">
<label>scenario <select id="filter-scenario"><option value="">all</option>${report.results.map((r) => `<option>${esc(r.name)}</option>`).join('')}</select></label>
<label>finding <select id="filter-rule"><option value="">any</option>${rules.map((r) => `<option>${esc(r)}</option>`).join('')}</select></label>
<label><input type="checkbox" id="filter-failed"> failed only</label>
<span class="legend"><span><i style="background:#2da44e"></i>2xx</span><span><i style="background:#0969da"></i>3xx</span><span><i style="background:#d4a72c"></i>4xx</span><span><i style="background:#cf222e"></i>5xx</span><span><i style="background:#8250df"></i>cut</span></span>
</div>
${matrix(report)}
${report.results.map(section).join('\n')}
<script>${SCRIPT}</script>
</body></html>
`;
}
