// The control-plane prober against local HTTP and HTTPS servers: status,
// bearer token, custom CA, insecureSkipTlsVerify and timeouts.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createServer as createHttp, type Server, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttps } from 'node:https';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { probeUrl, probeOnce, inClusterTarget } from '../sla/probes.ts';

const dir = mkdtempSync(join(tmpdir(), 'sla-probes-'));
let http: Server;
let https: Server;
let httpBase = '';
let httpsBase = '';
const seenAuth: string[] = [];

function handler(req: IncomingMessage, res: ServerResponse): void {
  seenAuth.push(req.headers.authorization ?? '');
  if (req.url === '/readyz') res.end('ok');
  else if (req.url === '/livez') {
    res.statusCode = 500;
    res.end('[-]etcd failed');
  } else if (req.url === '/slow') setTimeout(() => res.end('ok'), 2000);
  else if (req.url === '/auth') {
    res.statusCode = req.headers.authorization === 'Bearer s3cret' ? 200 : 401;
    res.end();
  } else {
    res.statusCode = 404;
    res.end();
  }
}

beforeAll(async () => {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: 'ignore' });
  http = createHttp(handler);
  https = createHttps({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, handler);
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  await new Promise<void>((r) => https.listen(0, '127.0.0.1', r));
  httpBase = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  httpsBase = `https://127.0.0.1:${(https.address() as AddressInfo).port}`;
});

afterAll(async () => {
  http?.closeAllConnections();
  https?.closeAllConnections();
  await new Promise((r) => http?.close(r));
  await new Promise((r) => https?.close(r));
  rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
});

const cluster = { name: 'c', readyzUrl: '', livezUrl: '' };

describe('control-plane prober', () => {
  it('is ok on 200 and failed with the status otherwise', async () => {
    expect(await probeUrl(`${httpBase}/readyz`, cluster, 1000)).toMatchObject({ ok: true, error: '' });
    expect(await probeUrl(`${httpBase}/livez`, cluster, 1000)).toMatchObject({ ok: false, error: 'HTTP 500' });
  });
  it('sends the bearer token', async () => {
    expect((await probeUrl(`${httpBase}/auth`, cluster, 1000)).ok).toBe(false);
    expect((await probeUrl(`${httpBase}/auth`, { ...cluster, token: 's3cret' }, 1000)).ok).toBe(true);
  });
  it('fails on a timeout and on a refused connection', async () => {
    const slow = await probeUrl(`${httpBase}/slow`, cluster, 200);
    expect(slow.ok).toBe(false);
    expect(slow.error).toMatch(/timeout/);
    const refused = await probeUrl('http://127.0.0.1:1/readyz', cluster, 500);
    expect(refused.ok).toBe(false);
  });
  it('verifies TLS against the cluster CA, refuses an unknown CA, and can skip verification', async () => {
    expect((await probeUrl(`${httpsBase}/readyz`, cluster, 2000)).ok).toBe(false);
    expect((await probeUrl(`${httpsBase}/readyz`, { ...cluster, caFile: join(dir, 'cert.pem') }, 2000)).ok).toBe(true);
    expect((await probeUrl(`${httpsBase}/readyz`, { ...cluster, insecureSkipTlsVerify: true }, 2000)).ok).toBe(true);
  });
  it('probes readyz and livez of every cluster in one round, labelled with the location', async () => {
    const results = await probeOnce([{ name: 'cls-1', readyzUrl: `${httpBase}/readyz`, livezUrl: `${httpBase}/livez` }], { tenant: 't', location: 'eu-1', timeoutMs: 1000, now: () => 1_700_000_000_000 });
    expect(results.map((r) => [r.cluster, r.location, r.target.endsWith('/readyz'), r.ok, r.timestamp])).toEqual([
      ['cls-1', 'eu-1', true, true, 1_700_000_000_000],
      ['cls-1', 'eu-1', false, false, 1_700_000_000_000],
    ]);
  });
});

describe('in-cluster API server as a probe target', () => {
  const sa = '/sa';
  it('is built from the service environment and the service account files', () => {
    const files = new Set(['/sa/token', '/sa/ca.crt']);
    expect(inClusterTarget('home', { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' }, (p) => files.has(p), sa)).toEqual({
      name: 'home',
      readyzUrl: 'https://10.96.0.1:443/readyz',
      livezUrl: 'https://10.96.0.1:443/livez',
      tokenFile: '/sa/token',
      caFile: '/sa/ca.crt',
    });
    expect(inClusterTarget('home', { KUBERNETES_SERVICE_HOST: 'fd00::1' }, (p) => files.has(p), sa)?.readyzUrl).toBe('https://[fd00::1]:443/readyz');
  });
  it('is absent outside a cluster', () => {
    expect(inClusterTarget('home', {}, () => true, sa)).toBeUndefined();
    expect(inClusterTarget('home', { KUBERNETES_SERVICE_HOST: '10.96.0.1' }, () => false, sa)).toBeUndefined();
  });
});
