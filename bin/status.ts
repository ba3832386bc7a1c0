// `tidemark status`: the bus, its lag and the ingest rate of a running engine.
import { Command } from 'commander';
import { engineAuthHeaders } from '../core/cli.ts';

interface Status {
  role: string;
  bus: { kind: string; ready: boolean; depth: Record<string, number> };
  store: { kind: string; path?: string; url?: string };
  ingest: { samplesStored: number | null; samplesPerSecond: number | null };
}

export function formatStatus(s: Status): string {
  const depth = Object.entries(s.bus.depth)
    .map(([t, d]) => `${t} ${d}`)
    .join(', ');
  return [
    `role      ${s.role}`,
    `bus       ${s.bus.kind} (${s.bus.ready ? 'ready' : 'NOT READY'}); waiting: ${depth}`,
    `store     ${s.store.kind} ${s.store.path ?? s.store.url ?? ''}`,
    `ingest    ${s.ingest.samplesPerSecond === null ? 'not an ingester' : `${Math.round(s.ingest.samplesPerSecond)} samples/s, ${s.ingest.samplesStored} stored since start`}`,
  ].join('\n');
}

export function statusCommand(): Command {
  return new Command('status')
    .description("Print a running engine's bus, lag and ingest rate")
    .option('--json', 'print the status as JSON')
    .option('--url <url>', 'engine address (also TIDEMARK_URL)', process.env['TIDEMARK_URL'] ?? 'http://127.0.0.1:8080')
    .action(async (opts: { json?: boolean; url: string }) => {
      let status: Status;
      try {
        const res = await fetch(`${opts.url.replace(/\/$/, '')}/api/v1/status`, { headers: engineAuthHeaders() });
        if (!res.ok) {
          // 401/403 when the engine runs with auth on: TIDEMARK_TOKEN must hold a cloud-admin token.
          const err = (await res.json().catch(() => ({}))) as { error?: string; message?: string };
          process.stderr.write(`tidemark status: ${opts.url} answered ${res.status} ${err.error ?? ''}: ${err.message ?? ''}${res.status === 401 ? ' (set TIDEMARK_TOKEN)' : ''}\n`);
          process.exitCode = 1;
          return;
        }
        status = (await res.json()) as Status;
      } catch (e) {
        process.stderr.write(`tidemark status: cannot reach ${opts.url}: ${(e as Error).message}\n`);
        process.exitCode = 1;
        return;
      }
      process.stdout.write((opts.json ? JSON.stringify(status) : formatStatus(status)) + '\n');
    });
}
