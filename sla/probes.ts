// Probing each cluster's control plane (/readyz and /livez) from this
// engine's location, and storing every probe result. Remote locations post
// their results through the API, which calls recordProbeResults too.
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { readFileSync } from 'node:fs';
import type { Store } from '../core/store.ts';
import type { ProbeResult } from '../core/bus/records.ts';
import { chTime } from './period.ts';

export interface ProbedCluster {
  name: string;
  readyzUrl: string;
  livezUrl: string;
  token?: string;
  tokenFile?: string;
  caFile?: string;
  insecureSkipTlsVerify?: boolean;
}

export async function recordProbeResults(store: Store, results: readonly ProbeResult[]): Promise<void> {
  await store.insertRows(
    'sla_probes',
    results.map((r) => ({
      tenant: r.tenant,
      cluster: r.cluster,
      location: r.location,
      target: r.target,
      ts: chTime(r.timestamp),
      ok: r.ok ? 1 : 0,
      latency_ms: r.latencyMs,
      error: r.error.slice(0, 500),
    })),
  );
}

/** One GET; ok only on HTTP 200 (the API server answers /readyz with 200 "ok" when ready). */
export function probeUrl(url: string, cluster: ProbedCluster, timeoutMs: number): Promise<{ ok: boolean; latencyMs: number; error: string }> {
  const started = performance.now();
  return new Promise((resolve) => {
    const done = (ok: boolean, error: string) => resolve({ ok, latencyMs: Math.round((performance.now() - started) * 10) / 10, error });
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      done(false, `bad url ${url}`);
      return;
    }
    const headers: Record<string, string> = {};
    const token = cluster.token ?? (cluster.tokenFile ? readFileSync(cluster.tokenFile, 'utf8').trim() : undefined);
    if (token) headers['authorization'] = `Bearer ${token}`;
    const options = {
      method: 'GET',
      headers,
      timeout: timeoutMs,
      ...(target.protocol === 'https:'
        ? { ca: cluster.caFile ? readFileSync(cluster.caFile) : undefined, rejectUnauthorized: !cluster.insecureSkipTlsVerify }
        : {}),
    };
    const req = (target.protocol === 'https:' ? httpsRequest : httpRequest)(target, options, (res) => {
      res.resume();
      res.on('end', () => done(res.statusCode === 200, res.statusCode === 200 ? '' : `HTTP ${res.statusCode}`));
      res.on('error', (e) => done(false, e.message));
    });
    req.on('timeout', () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    req.on('error', (e) => done(false, e.message));
    req.end();
  });
}

/** Probes every cluster's readyz and livez once, concurrently. */
export async function probeOnce(clusters: readonly ProbedCluster[], options: { tenant: string; location: string; timeoutMs: number; now?: () => number }): Promise<ProbeResult[]> {
  const now = options.now ?? Date.now;
  const jobs = clusters.flatMap((c) =>
    [c.readyzUrl, c.livezUrl].map(async (url): Promise<ProbeResult> => {
      const timestamp = now();
      const r = await probeUrl(url, c, options.timeoutMs);
      return { tenant: options.tenant, cluster: c.name, location: options.location, timestamp, target: url, ...r };
    }),
  );
  return Promise.all(jobs);
}

const SERVICE_ACCOUNT = '/var/run/secrets/kubernetes.io/serviceaccount';

/**
 * The API server this process runs under, from the in-cluster environment
 * (KUBERNETES_SERVICE_HOST/PORT and the service account's token and CA), as
 * a probe target; undefined outside a cluster.
 */
export function inClusterTarget(name: string, env: Record<string, string | undefined>, exists: (path: string) => boolean, saDir = SERVICE_ACCOUNT): ProbedCluster | undefined {
  const host = env['KUBERNETES_SERVICE_HOST'];
  const port = env['KUBERNETES_SERVICE_PORT'] ?? '443';
  if (!host || !exists(`${saDir}/token`)) return undefined;
  const base = `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return {
    name,
    readyzUrl: `${base}/readyz`,
    livezUrl: `${base}/livez`,
    tokenFile: `${saDir}/token`,
    ...(exists(`${saDir}/ca.crt`) ? { caFile: `${saDir}/ca.crt` } : {}),
  };
}
