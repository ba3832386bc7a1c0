// CLI start-up benchmark: spawns `node bin/tidemark.js …` (the command as
// installed) CLI_BENCH_RUNS times (default 10) per case, one run at a time,
// and times each from spawn to exit. Cases: `--help`, `query --help`, a
// `query` and a `status` against a closed loopback port (they fail with
// exit 1 after the connection is refused), and `sla compute` on a one-cluster
// input; bare `node -e ''` is timed too, as the floor on this machine. Each
// run's exit code must be the expected one; the 1-minute load average at the
// end goes into the figures, since wall times scale with it. Whether the
// launcher runs the compiled build (dist/) or falls back to tsx is printed:
// run `npm run build` first after editing sources. Last line:
// {"bench":"cli",…}.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';

const RUNS = Number(process.env['CLI_BENCH_RUNS'] ?? 10);
const root = join(import.meta.dirname, '..');

interface Case {
  key: string;
  args: string[];
  expectedExit: number;
  /** The command itself, not the launcher (the floor). */
  bare?: boolean;
}

/** A loopback port nothing listens on: bound by the OS, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The same test bin/tidemark.js makes: a build newer than every source it was built from. */
function buildIsCurrent(): boolean {
  try {
    const build = JSON.parse(readFileSync(join(root, 'dist', 'build.json'), 'utf8')) as { builtAt: number; sources: string[] };
    return build.sources.every((s) => statSync(join(root, s)).mtimeMs < build.builtAt);
  } catch {
    return false;
  }
}

function runOnce(c: Case): Promise<{ ms: number; code: number | null; stderr: string }> {
  const args = c.bare ? ['-e', ''] : [join(root, 'bin', 'tidemark.js'), ...c.args];
  const started = process.hrtime.bigint();
  const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ ms: Number(process.hrtime.bigint() - started) / 1e6, code, stderr }));
  });
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

const dir = mkdtempSync(join(tmpdir(), 'cli-bench-'));
try {
  const slaInput = join(dir, 'sla-input.json');
  writeFileSync(
    slaInput,
    JSON.stringify({
      period: { start: '2026-10-01T00:00:00Z', end: '2026-11-01T00:00:00Z' },
      instances: [
        {
          id: 'cls-1',
          outages: [{ start: '2026-10-31T12:00:00Z', end: '2026-10-31T12:34:00Z', cause: 'platform' }],
          charges: [{ start: '2026-10-30T12:00:00Z', end: '2026-10-31T12:00:00Z', amount: 522.72 }],
          paid: 9000,
        },
      ],
    }),
  );
  const url = `http://127.0.0.1:${await closedPort()}`;
  const cases: Case[] = [
    { key: 'node', args: [], expectedExit: 0, bare: true },
    { key: 'help', args: ['--help'], expectedExit: 0 },
    { key: 'query_help', args: ['query', '--help'], expectedExit: 0 },
    { key: 'query', args: ['query', 'node_load1', '--since', '5m', '--url', url], expectedExit: 1 },
    { key: 'status', args: ['status', '--url', url], expectedExit: 1 },
    { key: 'sla_compute', args: ['sla', 'compute', '--input', slaInput], expectedExit: 0 },
  ];

  const compiled = buildIsCurrent();
  console.log(`launcher runs ${compiled ? 'the compiled build (dist/)' : 'the sources through tsx (no current build)'}; ${RUNS} runs per case`);
  const figures: Record<string, number> = {};
  let exitCodesOk = true;
  for (const c of cases) {
    const times: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const r = await runOnce(c);
      if (r.code !== c.expectedExit) {
        exitCodesOk = false;
        console.error(`${c.key}: run ${i + 1} exited ${r.code}, expected ${c.expectedExit}\n${r.stderr}`);
      }
      times.push(r.ms);
    }
    times.sort((a, b) => a - b);
    const p50 = Math.round(percentile(times, 0.5));
    const max = Math.round(times[times.length - 1]!);
    figures[`${c.key}_p50_ms`] = p50;
    figures[`${c.key}_max_ms`] = max;
    const label = c.bare ? "node -e ''" : `tidemark ${c.args.join(' ').replace(dir, '…').replace(url, 'CLOSED')}`;
    console.log(`${c.key.padEnd(12)} p50 ${String(p50).padStart(5)} ms  max ${String(max).padStart(5)} ms  exit ${c.expectedExit}  ${label}`);
  }
  console.log(
    JSON.stringify({
      bench: 'cli',
      help_p50_ms: figures['help_p50_ms'],
      query_help_p50_ms: figures['query_help_p50_ms'],
      query_p50_ms: figures['query_p50_ms'],
      status_p50_ms: figures['status_p50_ms'],
      sla_compute_p50_ms: figures['sla_compute_p50_ms'],
      node_p50_ms: figures['node_p50_ms'],
      max_ms: Math.max(...cases.filter((c) => !c.bare).map((c) => figures[`${c.key}_max_ms`]!)),
      runs: RUNS,
      compiled,
      // Wall times on a shared machine scale with its load: node_p50_ms is the floor.
      load_avg_1m: Math.round(loadavg()[0]! * 10) / 10,
      exit_codes_ok: exitCodesOk,
    }),
  );
  if (!exitCodesOk) process.exitCode = 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
