import { describe, expect, it } from 'vitest';
import { formatGoFloat, humanize, humanizeDuration, humanizePercentage, parseTemplate } from './template.ts';

const data = { labels: { instance: 'n1:9100', job: 'node' }, externalLabels: { cluster: 'eu' }, externalURL: 'http://tm', value: 0.123456 };
const expand = (s: string, d = data) => parseTemplate(s, '__alert_X').expand(d);

describe('alert templates (the Go text/template subset)', () => {
  it('formats numbers as Go does', () => {
    expect(formatGoFloat(1e6)).toBe('1e+06');
    expect(formatGoFloat(123456)).toBe('123456');
    expect(formatGoFloat(0.5)).toBe('0.5');
    expect(formatGoFloat(0.00001)).toBe('1e-05');
    expect(formatGoFloat(1234.5678, 4)).toBe('1235');
    expect(formatGoFloat(12345.678, 4)).toBe('1.235e+04');
    expect(formatGoFloat(1.5, 4)).toBe('1.5');
  });

  it("has Prometheus' humanize functions", () => {
    expect(humanize(1234567)).toBe('1.235M');
    expect(humanize(0.001234)).toBe('1.234m');
    expect(humanize(0)).toBe('0');
    expect(humanizePercentage(0.1234)).toBe('12.34%');
    expect(humanizeDuration(90061)).toBe('1d 1h 1m 1s');
    expect(humanizeDuration(59.5)).toBe('59.5s');
    expect(humanizeDuration(0.25)).toBe('250ms');
  });

  it('expands variables, fields, pipelines, printf, if/else and range', () => {
    expect(expand('{{ $labels.instance }} of {{ .Labels.job }} in {{ $externalLabels.cluster }}')).toBe('n1:9100 of node in eu');
    expect(expand('{{ $value | humanizePercentage }}')).toBe('12.35%');
    expect(expand('{{ printf "%.2f" $value }}')).toBe('0.12');
    expect(expand('{{ if gt $value 0.1 }}high{{ else }}low{{ end }}')).toBe('high');
    expect(expand('{{ if eq $labels.job "x" }}x{{ else if eq $labels.job "node" }}node{{ else }}?{{ end }}')).toBe('node');
    expect(expand('{{ range $k, $v := $labels }}{{ $k }}={{ $v }};{{ end }}')).toBe('instance=n1:9100;job=node;');
    expect(expand('{{ $labels.missing }}|{{- " trimmed" }}')).toBe('| trimmed');
    expect(expand('{{ $value }}')).toBe('0.123456');
    expect(expand('{{/* comment */}}ok')).toBe('ok');
  });

  it('refuses templates that do not parse, naming the template', () => {
    expect(() => parseTemplate('{{ $labels.x', '__alert_X')).toThrow(/__alert_X:1: unclosed action/);
    expect(() => parseTemplate('{{ nosuch 1 }}', '__alert_X')).toThrow(/function "nosuch" not defined/);
    expect(() => parseTemplate('{{ if true }}x', '__alert_X')).toThrow(/unexpected EOF/);
    expect(() => parseTemplate('{{ $undefined }}', '__alert_X')).toThrow(/undefined variable "\$undefined"/);
    expect(() => parseTemplate('{{ end }}', '__alert_X')).toThrow(/unexpected \{\{end\}\}/);
  });
});
