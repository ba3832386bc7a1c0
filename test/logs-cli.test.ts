// `tidemark logs push` and `tidemark logs search` as separate processes
// against a running engine with auth on: lines pushed from a file and from
// stdin are found by search, as a table and as JSON; a bad label is exit 2.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestEngine, type TestEngine } from './helpers/engine.ts';

const run = promisify(execFile);
const ADMIN = 'logs-cli-admin-token-0123456789abcdef';
let t: TestEngine;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  const { mkdtempSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const file = join(mkdtempSync(join(tmpdir(), 'tidemark-logs-cli-')), 'admin');
  writeFileSync(file, ADMIN);
  t = await startTestEngine([{ path: ['auth', 'enabled'], value: true }, { path: ['auth', 'adminTokenFile'], value: file }]);
  env = { ...process.env, TIDEMARK_URL: t.engine.url, TIDEMARK_TOKEN: ADMIN };
}, 60_000);

afterAll(async () => {
  await t?.close();
});

const tidemark = (args: string[]) => run('node', ['bin/tidemark.js', ...args], { timeout: 60_000, env });

describe('tidemark logs', () => {
  it('pushes a file and stdin, and finds the lines by keyword and label', async () => {
    const file = join(t.dir, 'app.log');
    writeFileSync(file, 'starting worker\nworker crashed: disk full on /dev/sda1\n');
    const pushed = await tidemark(['logs', 'push', '--label', 'app=batch', '--label', 'namespace=jobs', file]);
    expect(pushed.stderr).toContain('pushed 2 lines');
    await new Promise<void>((resolve, reject) => {
      const child = spawn('node', ['bin/tidemark.js', 'logs', 'push', '--label', 'app=stdin-test'], { env, stdio: ['pipe', 'ignore', 'pipe'] });
      child.stdin.end('from stdin: quota exceeded\n');
      child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`exit ${code}`))));
    });
    const table = await tidemark(['logs', 'search', '--namespace', 'jobs', '--since', '10m', '"disk full"']);
    expect(table.stdout).toMatch(/^1 matching lines/);
    expect(table.stdout).toContain('worker crashed: disk full on /dev/sda1');
    const json = JSON.parse((await tidemark(['logs', 'search', '--json', '--label', 'app=stdin-test', 'quota'])).stdout);
    expect(json.lines.map((l: { line: string; labels: Record<string, string> }) => [l.line, l.labels['app']])).toEqual([['from stdin: quota exceeded', 'stdin-test']]);
  });

  it('--follow prints lines that arrive after it started, late-stamped ones too, once', async () => {
    const child = spawn('node', ['bin/tidemark.js', 'logs', 'search', '--follow', '--label', 'app=follow-test', '--since', '5m'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    try {
      const until = async (check: () => boolean) => {
        const deadline = Date.now() + 30_000;
        while (!check()) {
          if (Date.now() > deadline) throw new Error(`timed out; output so far: ${out}`);
          await new Promise((r) => setTimeout(r, 100));
        }
      };
      await until(() => out.includes('matching lines'));
      const push = await fetch(`${t.engine.url}/loki/api/v1/push`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN}` },
        // Stamped 30 s ago, as a shipper's batch arrives late: still shown.
        body: JSON.stringify({ streams: [{ stream: { app: 'follow-test' }, values: [[String(BigInt(Date.now() - 30_000) * 1_000_000n), 'arrived while following']] }] }),
      });
      expect(push.status).toBe(204);
      await until(() => out.includes('arrived while following'));
      // Another poll or two: the line is not printed again.
      await new Promise((r) => setTimeout(r, 4500));
      expect(out.match(/arrived while following/g)).toHaveLength(1);
    } finally {
      child.kill();
    }
  });

  it('exits 2 naming a bad label or parameter', async () => {
    await expect(tidemark(['logs', 'push', '--label', 'no-equals'])).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining('--label "no-equals" is not name=value') });
    await expect(tidemark(['logs', 'search', '--limit', '0', 'x'])).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining('limit') });
  });
});
