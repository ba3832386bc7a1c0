// The monthly report as one self-contained HTML page (no external assets):
// per cluster, an inline SVG chart of daily availability, the incidents,
// the exclusions with who recorded them and why, and the voucher amount.
import type { SlaReport, ClusterReport } from './report-model.ts';

function esc(v: unknown): string {
  return String(v ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Bars of daily availability; the axis floor adapts so a 99.9 % day is still visible. */
export function availabilityChart(c: ClusterReport, commitment: number): string {
  const w = 620;
  const h = 120;
  const pad = 30;
  const days = c.daily.length || 1;
  const lowest = Math.min(commitment, ...c.daily.map((d) => d.availability));
  const floor = Math.max(0, Math.floor(lowest) - (lowest >= 99 ? 1 : 5));
  const y = (a: number) => h - pad / 2 - ((a - floor) / (100 - floor)) * (h - pad);
  const bw = (w - pad) / days;
  const bars = c.daily
    .map((d, i) => {
      const top = y(d.availability);
      const fill = d.availability >= commitment ? '#3a9a5b' : '#d0453a';
      return `<rect x="${(pad + i * bw + 1).toFixed(1)}" y="${top.toFixed(1)}" width="${Math.max(1, bw - 2).toFixed(1)}" height="${(h - pad / 2 - top).toFixed(1)}" fill="${fill}"><title>${esc(d.date)}: ${d.availability}%</title></rect>`;
    })
    .join('');
  const line = y(commitment).toFixed(1);
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" role="img" aria-label="daily availability of ${esc(c.id)}">` +
    `<text x="0" y="12" font-size="10">100%</text><text x="0" y="${h - pad / 2}" font-size="10">${floor}%</text>` +
    bars +
    `<line x1="${pad}" x2="${w}" y1="${line}" y2="${line}" stroke="#555" stroke-dasharray="4 3"/><text x="${w - 90}" y="${Number(line) - 3}" font-size="10">commitment ${commitment}%</text>` +
    `</svg>`
  );
}

function clusterSection(c: ClusterReport, commitment: number): string {
  const incidents = c.incidents.length
    ? `<table><tr><th>Start</th><th>End</th><th>Minutes</th><th>Counted</th><th>Fee/min</th><th>Compensation</th></tr>${c.incidents
        .map((i) => `<tr><td>${esc(i.start)}</td><td>${esc(i.end)}</td><td>${i.minutes}</td><td>${i.counted ? 'yes' : `no (${esc(i.excludedBecause)})`}</td><td>${i.feePerMinute}</td><td>${i.compensation.toFixed(2)}</td></tr>`)
        .join('')}</table>`
    : '<p>No incidents.</p>';
  const exclusions = c.exclusions.length
    ? `<table><tr><th>Start</th><th>End</th><th>Cause</th><th>Minutes</th><th>Outage minutes excluded</th><th>Reason</th><th>Recorded by</th></tr>${c.exclusions
        .map((e) => `<tr><td>${esc(e.start)}</td><td>${esc(e.end)}</td><td>${esc(e.cause)}</td><td>${e.minutes}</td><td>${e.excludedOutageMinutes}</td><td>${esc(e.reason)}</td><td>${esc(e.recordedBy)}</td></tr>`)
        .join('')}</table>`
    : '<p>No exclusions.</p>';
  return `<section id="cluster-${esc(c.id)}"><h2>${esc(c.id)} — ${c.availability}% ${c.met ? '<span class="ok">met</span>' : '<span class="miss">missed</span>'}</h2>
<p>Unavailable: ${c.unavailableMinutes} of ${c.periodMinutes} minutes. Voucher: <strong>${c.compensation.toFixed(2)}</strong>${c.capped ? ` (capped at the ${c.paid.toFixed(2)} paid)` : ''}.</p>
${availabilityChart(c, commitment)}
<h3>Incidents</h3>${incidents}<h3>Exclusions</h3>${exclusions}</section>`;
}

export function renderReportHtml(r: SlaReport): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>SLA report ${esc(r.month)} (${esc(r.tenant)})</title>
<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:60em}table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:2px 6px;font-size:13px}.ok{color:#3a9a5b}.miss{color:#d0453a}section{margin-bottom:2em}</style>
</head><body>
<h1>SLA report ${esc(r.month)}</h1>
<p>Tenant ${esc(r.tenant)}; period ${esc(r.period.start)} to ${esc(r.period.end)}; commitment ${r.terms.commitment}%; version ${esc(r.version ?? '')}, generated ${esc(r.generatedAt ?? '')}.</p>
<p>${r.totals.clusters} clusters, ${r.totals.missed} missed the commitment; vouchers total <strong>${r.totals.compensation.toFixed(2)}</strong>.</p>
${r.clusters.map((c) => clusterSection(c, r.terms.commitment)).join('\n')}
</body></html>
`;
}
