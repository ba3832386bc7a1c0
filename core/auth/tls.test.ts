// server.tls: createHttpServer serves HTTPS from PEM files (a self-signed pair made with openssl here).
import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHttpServer } from '../http.ts';

const dir = mkdtempSync(join(tmpdir(), 'tidemark-tls-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('server.tls', () => {
  it('serves HTTPS with the configured certificate and key', async () => {
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1'], { stdio: 'ignore' });
    const app = createHttpServer({ bodyLimit: 1024, tls: { cert, key }, auth: { enabled: false, defaultTenant: 'default', bind: { host: '127.0.0.1', port: 0 }, allowedOrigins: [] } });
    app.get('/healthz', { config: { auth: { action: 'public' } } }, async (req) => ({ tenant: req.tenant }));
    const url = new URL(await app.listen({ host: '127.0.0.1', port: 0 }));
    try {
      expect(url.protocol).toBe('https:');
      const body = await new Promise<string>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port: url.port, path: '/healthz', rejectUnauthorized: false }, (res) => {
          const tls = (res.socket as { encrypted?: boolean } | null)?.encrypted ? 'tls' : 'plain';
          let text = '';
          res.on('data', (c: Buffer) => (text += c));
          res.on('end', () => resolve(`${res.statusCode} ${tls} ${text}`));
        });
        req.on('error', reject);
        req.end();
      });
      expect(body).toBe('200 tls {"tenant":"default"}');
    } finally {
      await app.close();
    }
  });

  it('names the file it cannot read', () => {
    expect(() => createHttpServer({ bodyLimit: 1024, tls: { cert: join(dir, 'missing.pem'), key: join(dir, 'missing.pem') } })).toThrow(/missing\.pem/);
  });
});
