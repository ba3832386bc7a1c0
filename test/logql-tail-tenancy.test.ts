// The tail websocket under auth: the upgrade is authenticated and scoped
// like every other route (no token: 401; another tenant named in
// X-Scope-OrgID: 403) and its socket ended (the engine still closes), and a tail of A's sees A's lines pushed after it
// connects and never B's, though both push the same stream labels.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestEngine, type TestEngine } from './helpers/engine.ts';

const ADMIN = 'tail-tenancy-bootstrap-token-0123456789';
let t: TestEngine;
const tokens: Record<string, string> = {};

async function mint(tenant: string, role: string): Promise<string> {
  const res = await fetch(`${t.engine.url}/api/v1/tokens`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ tenant, role, expires: '1h' }),
  });
  expect(res.status).toBe(201);
  return ((await res.json()) as { token: string }).token;
}

async function push(token: string, line: string): Promise<void> {
  const res = await fetch(`${t.engine.url}/loki/api/v1/push`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ streams: [{ stream: { app: 'shared' }, values: [[String(BigInt(Date.now()) * 1_000_000n), line]] }] }),
  });
  expect(res.status).toBe(204);
}

function tailUrl(): string {
  return `${t.engine.url.replace(/^http/, 'ws')}/loki/api/v1/tail?${new URLSearchParams({ query: '{app="shared"}', start: String(BigInt(Date.now()) * 1_000_000n) })}`;
}

/** The HTTP status a refused upgrade answers, or 101 when it opens. */
function upgradeStatus(headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(tailUrl(), { headers });
    ws.once('open', () => {
      ws.close();
      resolve(101);
    });
    // The client leaves the refused connection to the server: the engine must end it itself, or its close (afterAll) waits for ever.
    ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.once('error', (e) => reject(e));
  });
}

beforeAll(async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'tidemark-admin-')), 'admin-token');
  writeFileSync(file, ADMIN);
  t = await startTestEngine([
    { path: ['auth', 'enabled'], value: true },
    { path: ['auth', 'adminTokenFile'], value: file },
  ]);
  tokens['acme-user'] = await mint('acme', 'user');
  tokens['acme-ingest'] = await mint('acme', 'ingest');
  tokens['globex-ingest'] = await mint('globex', 'ingest');
}, 60_000);

afterAll(async () => {
  await t?.close();
});

describe('tail under auth', () => {
  it('refuses the upgrade without a token (401), to an ingest token (403) and for another tenant (403)', async () => {
    expect(await upgradeStatus({})).toBe(401);
    expect(await upgradeStatus({ authorization: `Bearer ${tokens['acme-ingest']}` })).toBe(403);
    expect(await upgradeStatus({ authorization: `Bearer ${tokens['acme-user']}`, 'x-scope-orgid': 'globex' })).toBe(403);
  });

  it("sends acme's line pushed after it connects, and never globex's", async () => {
    const ws = new WebSocket(tailUrl(), { headers: { authorization: `Bearer ${tokens['acme-user']}` } });
    const frames: string[] = [];
    ws.on('message', (data) => frames.push(data.toString()));
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    await new Promise((r) => setTimeout(r, 700));
    await push(tokens['globex-ingest']!, 'globex-tail-line');
    await push(tokens['acme-ingest']!, 'acme-tail-line');
    const until = Date.now() + 15_000;
    while (!frames.some((f) => f.includes('acme-tail-line')) && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    // A poll after acme's line: globex's, pushed first, would have come by now.
    await new Promise((r) => setTimeout(r, 1200));
    ws.close();
    expect(frames.some((f) => f.includes('acme-tail-line'))).toBe(true);
    expect(frames.join('\n')).not.toMatch(/globex/);
  }, 30_000);
});
