// SLA benchmark: 1,000 clusters, 30 days of per-minute probe status with
// realistic outages (short blips, flapping, a few long incidents, isolated
// failed probes) and hourly charges, then outage derivation in SQL and the
// full monthly report (calculator, JSON/CSV/HTML files, stored version).
// Loading the data is set-up and not timed; the timed part is what the
// monthly job does. Last line: {"bench":"sla","clusters":1000,"seconds":…}.
import { mulberry32 } from '../core/hashing.ts';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from '../core/store.ts';
import { migrate, schemaContext } from '../core/migrations.ts';
import { slaMigrations } from '../sla/schema.ts';
import { deriveOutageWindows } from '../sla/outages.ts';
import { runMonthlyReport } from '../sla/report.ts';

const CLUSTERS = Number(process.env['SLA_BENCH_CLUSTERS'] ?? 1000);
const MONTH = '2026-11'; // 30 days
const START = Date.UTC(2026, 10, 1);
const MINUTES = 30 * 1440;
const CHUNK = 50; // clusters per insert: bounded memory on a shared machine


/** Per-minute status for one cluster: 1 ok, 0 down. */
function clusterMinutes(rand: () => number, into: Uint8Array): number {
  into.fill(1);
  let down = 0;
  const mark = (from: number, len: number) => {
    for (let m = from; m < Math.min(MINUTES, from + len); m++) if (into[m]) (into[m] = 0), down++;
  };
  // Isolated failed probes (network noise): ~0.05 % of minutes.
  for (let i = 0; i < MINUTES * 0.0005; i++) mark(Math.floor(rand() * MINUTES), 1);
  // Short blips, 1–9 minutes: 0–5 a month.
  for (let i = Math.floor(rand() * 6); i > 0; i--) mark(Math.floor(rand() * MINUTES), 1 + Math.floor(rand() * 9));
  // Flapping: a 30-minute stretch failing every other minute, for one cluster in ten.
  if (rand() < 0.1) {
    const at = Math.floor(rand() * (MINUTES - 30));
    for (let m = 0; m < 30; m += 2) mark(at + m, 1);
  }
  // Real incidents, 10–180 minutes: a third of clusters have one, a few have two or three.
  const r = rand();
  const incidents = r < 0.6 ? 0 : r < 0.9 ? 1 : r < 0.98 ? 2 : 3;
  for (let i = 0; i < incidents; i++) mark(Math.floor(rand() * MINUTES), 10 + Math.floor(rand() ** 2 * 170));
  return down;
}

async function main(): Promise<void> {
  const dir = process.env['SLA_BENCH_DIR'] ?? mkdtempSync(join(tmpdir(), 'bench-sla-'));
  const store = await Store.open({ dataPath: join(dir, 'chdb'), database: 'bench_sla' });
  try {
    await migrate(store, schemaContext(store, { rawRetentionDays: 15, rollupRetentionDays: 400 }), slaMigrations);
    const rand = mulberry32(42);
    const loadStart = performance.now();
    const status = new Uint8Array(MINUTES);
    let downMinutes = 0;
    for (let c0 = 0; c0 < CLUSTERS; c0 += CHUNK) {
      const n = Math.min(CHUNK, CLUSTERS - c0);
      const rows = n * MINUTES;
      const cl = new Uint32Array(rows);
      const mi = new Uint32Array(rows);
      const ok = new Uint8Array(rows);
      for (let k = 0; k < n; k++) {
        downMinutes += clusterMinutes(rand, status);
        const base = k * MINUTES;
        cl.fill(c0 + k, base, base + MINUTES);
        for (let m = 0; m < MINUTES; m++) mi[base + m] = m;
        ok.set(status, base);
      }
      await store.insertNative(
        'sla_probes',
        'tenant, cluster, location, target, ts, ok, latency_ms, error',
        `'default', concat('cls-', leftPad(toString(c), 4, '0')), 'bench', '/readyz', fromUnixTimestamp64Milli(toInt64(${START} + toInt64(m) * 60000 + 7000), 'UTC'), ok, 3, if(ok = 1, '', 'HTTP 503')`,
        [
          { name: 'c', type: 'UInt32', data: cl },
          { name: 'm', type: 'UInt32', data: mi },
          { name: 'ok', type: 'UInt8', data: ok },
        ],
        rows,
      );
    }
    // Hourly charges per cluster from a day before the month (the fee look-back) to its end; rates 0.50–20.00 an hour.
    const hours = 31 * 24;
    const rowsC = CLUSTERS * hours;
    const cc = new Uint32Array(rowsC);
    const hh = new Uint32Array(rowsC);
    const amt = new BigUint64Array(rowsC);
    for (let c = 0; c < CLUSTERS; c++) {
      const rate = BigInt(Math.round((0.5 + rand() * 19.5) * 100)) * 10_000n;
      for (let h = 0; h < hours; h++) {
        const i = c * hours + h;
        cc[i] = c;
        hh[i] = h;
        amt[i] = rate;
      }
    }
    await store.insertNative(
      'sla_charges',
      'tenant, cluster, item, starts_at, ends_at, amount, source, imported_at',
      `'default', concat('cls-', leftPad(toString(c), 4, '0')), 'compute', fromUnixTimestamp64Milli(toInt64(${START - 86_400_000} + toInt64(h) * 3600000), 'UTC'), fromUnixTimestamp64Milli(toInt64(${START - 86_400_000} + (toInt64(h) + 1) * 3600000), 'UTC'), CAST(a, 'Decimal(18, 6)') / 1000000, 'bench', now64(3)`,
      [
        { name: 'c', type: 'UInt32', data: cc },
        { name: 'h', type: 'UInt32', data: hh },
        { name: 'a', type: 'UInt64', data: amt },
      ],
      rowsC,
    );
    // A month-old table is merged by the time its report runs; merge now so background merges of the fresh load do not compete with the timed run.
    await store.command(`OPTIMIZE TABLE ${store.table('sla_probes')} FINAL`);
    await store.command(`OPTIMIZE TABLE ${store.table('sla_charges')} FINAL`);
    const loadSeconds = (performance.now() - loadStart) / 1000;
    console.log(JSON.stringify({ setup: 'loaded', probeRows: CLUSTERS * MINUTES, chargeRows: rowsC, downMinutes, seconds: Math.round(loadSeconds * 100) / 100 }));

    // Informational: outage derivation alone. The timed figure is the monthly report run, which derives the outages itself.
    const d0 = performance.now();
    const windows = await deriveOutageWindows(store, 'default', { start: START, end: START + MINUTES * 60_000 });
    const deriveSeconds = (performance.now() - d0) / 1000;
    const t0 = performance.now();
    const report = await runMonthlyReport(store, { tenant: 'default', month: MONTH, outputDir: join(dir, 'reports'), commitment: 99.95, multiplier: 100, minOutageMinutes: 10 });
    const seconds = (performance.now() - t0) / 1000;
    console.log(
      JSON.stringify({
        outageWindows: windows.length,
        deriveSeconds: Math.round(deriveSeconds * 100) / 100,
        missed: report.report.totals.missed,
        compensation: report.report.totals.compensation,
        htmlBytes: statSync(report.files.html).size,
      }),
    );
    if (report.report.clusters.length !== CLUSTERS) throw new Error(`report has ${report.report.clusters.length} clusters, expected ${CLUSTERS}`);
    console.log(JSON.stringify({ bench: 'sla', clusters: CLUSTERS, seconds: Math.round(seconds * 100) / 100 }));
  } finally {
    await store.close();
    if (!process.env['SLA_BENCH_DIR']) rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  }
}

await main();
