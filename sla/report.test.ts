import { describe, it, expect } from 'vitest';
import { buildReport, dailyAvailability, renderReportCsv, reportDigest } from './report.ts';
import { renderReportHtml } from './html.ts';
import { parseSlaInput } from './calculator.ts';

const FEB_2028 = { start: Date.UTC(2028, 1, 1), end: Date.UTC(2028, 2, 1) };

describe('daily availability', () => {
  it('has one entry per day of the month (29 in a leap February) and splits an incident across midnight', () => {
    const days = dailyAvailability(FEB_2028, [
      { start: '2028-02-10T23:30:00Z', end: '2028-02-11T00:30:00Z', counted: true },
      { start: '2028-02-20T10:00:00Z', end: '2028-02-20T10:05:00Z', counted: false },
    ]);
    expect(days).toHaveLength(29);
    expect(days[9]).toEqual({ date: '2028-02-10', availability: Math.round(((1440 - 30) / 1440) * 1e6) / 1e4 });
    expect(days[10]!.availability).toBe(days[9]!.availability);
    expect(days[19]!.availability).toBe(100);
  });
});

describe('report rendering', () => {
  const input = parseSlaInput({
    period: { start: '2026-10-01T00:00:00Z', end: '2026-11-01T00:00:00Z' },
    instances: [
      {
        id: 'cls-<b>',
        outages: [
          { start: '2026-10-05T10:00:00Z', end: '2026-10-05T11:00:00Z', cause: 'platform' },
          { start: '2026-10-05T10:10:00Z', end: '2026-10-05T10:20:00Z', cause: 'customer', reason: 'deleted "the" LB, then <script>', recordedBy: 'ops, night' },
        ],
        charges: [{ start: '2026-10-04T10:00:00Z', end: '2026-10-05T10:00:00Z', amount: 14.4 }],
      },
    ],
  });
  const report = buildReport('default', '2026-10', input);

  it('totals the vouchers', () => {
    // 50 counted minutes (10 + 40) at 0.01/min × 100 = 50.00, capped at the 14.40 charged in October.
    expect(report.clusters[0]!.unavailableMinutes).toBe(50);
    expect(report.totals).toEqual({ clusters: 1, missed: 1, compensation: 14.4 });
  });
  it('escapes user text in HTML and quotes it in CSV', () => {
    const html = renderReportHtml(report);
    expect(html).not.toContain('<script>');
    expect(html).toContain('&lt;script&gt;');
    expect(html).toContain('cls-&lt;b&gt;');
    expect(html.match(/<svg/g)).toHaveLength(1);
    const csv = renderReportCsv(report);
    expect(csv).toContain('"deleted ""the"" LB, then <script>","ops, night"');
  });
  it('has a digest that ignores version and generation time but not content', () => {
    const d = reportDigest(report);
    expect(reportDigest({ ...report, version: 7, generatedAt: 'x' })).toBe(d);
    expect(reportDigest({ ...report, totals: { ...report.totals, compensation: 1 } })).not.toBe(d);
  });
});
