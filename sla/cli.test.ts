import { describe, it, expect } from 'vitest';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { slaCommand, computeFromText } from './cli.ts';

const input = {
  period: { start: '2026-10-01T00:00:00Z', end: '2026-11-01T00:00:00Z' },
  instances: [
    {
      id: 'cls-1',
      outages: [{ start: '2026-10-31T12:00:00Z', end: '2026-10-31T12:34:00Z', cause: 'platform' }],
      charges: [{ start: '2026-10-30T12:00:00Z', end: '2026-10-31T12:00:00Z', amount: 522.72 }],
      paid: 9000,
    },
  ],
};

async function runCli(args: string[], stdin = ''): Promise<{ out: string; err: string; code: number }> {
  let out = '';
  let err = '';
  let code = 0;
  const cmd = slaCommand({ write: (s) => (out += s), writeError: (s) => (err += s), exit: (c) => (code = c), readStdin: async () => stdin });
  await cmd.parseAsync(['node', 'sla', ...args]);
  return { out, err, code };
}

describe('tidemark sla compute', () => {
  it('reads JSON on stdin and prints the result as JSON', async () => {
    const r = await runCli(['compute'], JSON.stringify(input));
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
    const out = JSON.parse(r.out);
    // 522.72 over 1,440 minutes = 0.363/min; 34 × 0.363 × 100 = 1234.20.
    expect(out.instances[0]).toMatchObject({ id: 'cls-1', periodMinutes: 44_640, unavailableMinutes: 34, availability: 99.9238, met: false, compensation: 1234.2, capped: false });
    expect(out.instances[0].incidents[0]).toEqual({ start: '2026-10-31T12:00:00Z', end: '2026-10-31T12:34:00Z', minutes: 34, counted: true, feePerMinute: 0.363, compensation: 1234.2 });
  });
  it('reads --input FILE', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sla-cli-'));
    try {
      const file = join(dir, 'in.json');
      writeFileSync(file, JSON.stringify(input));
      const r = await runCli(['compute', '--input', file]);
      expect(JSON.parse(r.out).instances[0].compensation).toBe(1234.2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it('exits 2 naming the field, with no output, on bad input', async () => {
    const bad = structuredClone(input);
    bad.instances[0]!.outages[0]!.cause = 'aliens';
    const r = await runCli(['compute'], JSON.stringify(bad));
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toMatch(/^instances\[0\]\.outages\[0\]\.cause: /);
  });
  it('exits 2 on text that is not JSON and on an unreadable file', async () => {
    expect(computeFromText('{nope')).toMatchObject({ code: 2, stdout: '' });
    const r = await runCli(['compute', '--input', '/nonexistent/in.json']);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
  });
  it('exits 2 for an empty period and a negative amount', () => {
    const empty = { ...input, period: { start: input.period.start, end: input.period.start } };
    expect(computeFromText(JSON.stringify(empty)).stderr).toMatch(/^period\.end: /);
    const neg = structuredClone(input);
    neg.instances[0]!.charges[0]!.amount = -1;
    const r = computeFromText(JSON.stringify(neg));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^instances\[0\]\.charges\[0\]\.amount: /);
  });
  it('exits 2 for a malformed --month on sla report', async () => {
    const r = await runCli(['report', '--month', '2026-13']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/month/);
  });
});
