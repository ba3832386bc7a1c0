// The CRI file source on real files: partial lines joined, a file rotated
// (renamed, written on, replaced) while tailed, copytruncate, a restart that
// resumes from the kept positions (also across a rotation while stopped),
// a file that disappears; and, through a running engine, the tailed lines
// found by search with the labels the path gives.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendFileSync, mkdirSync, mkdtempSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LogRecord } from '../core/bus/records.ts';
import { silentLogger } from '../core/log.ts';
import { FileSource } from '../logs/files.ts';
import { startTestEngine, type TestEngine } from './helpers/engine.ts';

const root = mkdtempSync(join(tmpdir(), 'tidemark-pods-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const cri = (ms: number, text: string, tag: 'F' | 'P' = 'F', stream = 'stdout') => `${new Date(ms).toISOString().replace('Z', '123456Z')} ${stream} ${tag} ${text}\n`;

function podDir(name: string): string {
  const dir = join(root, name, 'pods', 'shop_web-7d9f8b6c5d-x2x9z_7f0c1c2e-aaaa-bbbb-cccc-0123456789ab', 'app');
  mkdirSync(dir, { recursive: true });
  return dir;
}

function source(name: string, published: LogRecord[]): FileSource {
  return new FileSource(
    { patterns: [join(root, name, 'pods', '*', '*', '*.log')], positionsFile: join(root, name, 'positions.json'), cluster: 'prod-eu', tenant: 'default', maxLineBytes: 1 << 16, retentionMs: 30 * 86_400_000 },
    { publish: async (_topic, payload) => void published.push(...(payload as LogRecord[])) },
    silentLogger,
  );
}

const texts = (records: LogRecord[]) => records.map((r) => r.message);
const now = Date.now();

describe('FileSource', () => {
  it('reads CRI lines with the path\'s labels and joins partial lines', async () => {
    const dir = podDir('basic');
    writeFileSync(join(dir, '0.log'), cri(now, 'hello') + cri(now + 1, 'a long ', 'P') + cri(now + 2, 'boom', 'F', 'stderr') + cri(now + 3, 'line', 'F'));
    const got: LogRecord[] = [];
    const s = source('basic', got);
    await s.poll();
    expect(texts(got)).toEqual(['hello', 'boom', 'a long line']);
    expect(got[0]!.labels).toEqual({ cluster: 'prod-eu', namespace: 'shop', workload: 'web', pod: 'web-7d9f8b6c5d-x2x9z', container: 'app', stream: 'stdout' });
    expect(got[1]!.labels!['stream']).toBe('stderr');
    expect(got[0]!.timestampNs).toBe(`${BigInt(now) * 1_000_000n + 123456n}`);
    // A line without its newline yet waits for it.
    appendFileSync(join(dir, '0.log'), cri(now + 4, 'half').slice(0, 20));
    await s.poll();
    expect(got).toHaveLength(3);
    appendFileSync(join(dir, '0.log'), cri(now + 4, 'half').slice(20));
    await s.poll();
    expect(texts(got)).toEqual(['hello', 'boom', 'a long line', 'half']);
    s.close();
  });

  it('follows a rotation by rename: the old file\'s last lines, then the new file', async () => {
    const dir = podDir('rotate');
    const log = join(dir, '0.log');
    writeFileSync(log, cri(now, 'one'));
    const got: LogRecord[] = [];
    const s = source('rotate', got);
    await s.poll();
    // The kubelet renames the file; the runtime writes a last line to it before reopening; a new file starts.
    renameSync(log, `${log}.20261129-230000`);
    appendFileSync(`${log}.20261129-230000`, cri(now + 1, 'two'));
    writeFileSync(log, cri(now + 2, 'three'));
    await s.poll();
    appendFileSync(log, cri(now + 3, 'four'));
    await s.poll();
    expect(texts(got)).toEqual(['one', 'two', 'three', 'four']);
    s.close();
  });

  it('reads a copytruncated file again from its start', async () => {
    const dir = podDir('truncate');
    const log = join(dir, '0.log');
    writeFileSync(log, cri(now, 'before truncate, a longer line'));
    const got: LogRecord[] = [];
    const s = source('truncate', got);
    await s.poll();
    truncateSync(log, 0);
    appendFileSync(log, cri(now + 1, 'after'));
    await s.poll();
    expect(texts(got)).toEqual(['before truncate, a longer line', 'after']);
    s.close();
  });

  it('resumes from its kept positions after a restart, also when the file rotated meanwhile', async () => {
    const dir = podDir('restart');
    const log = join(dir, '0.log');
    writeFileSync(log, cri(now, 'first'));
    const first: LogRecord[] = [];
    const a = source('restart', first);
    await a.poll();
    a.close();
    expect(texts(first)).toEqual(['first']);

    appendFileSync(log, cri(now + 1, 'second'));
    const second: LogRecord[] = [];
    const b = source('restart', second);
    await b.poll();
    b.close();
    expect(texts(second)).toEqual(['second']);

    // Stopped while the file was rotated: the rest of the old file, then the new one.
    appendFileSync(log, cri(now + 2, 'third'));
    renameSync(log, `${log}.20261129-231500`);
    writeFileSync(log, cri(now + 3, 'fourth'));
    const third: LogRecord[] = [];
    const c = source('restart', third);
    await c.poll();
    c.close();
    expect(texts(third)).toEqual(['third', 'fourth']);
  });

  it('goes on when a file disappears', async () => {
    const dir = podDir('gone');
    writeFileSync(join(dir, '0.log'), cri(now, 'only'));
    const got: LogRecord[] = [];
    const s = source('gone', got);
    await s.poll();
    rmSync(join(root, 'gone', 'pods'), { recursive: true });
    await s.poll();
    await s.poll();
    expect(texts(got)).toEqual(['only']);
    s.close();
  });

  it('does not advance past lines the bus refused, and sends them again', async () => {
    const dir = podDir('refused');
    writeFileSync(join(dir, '0.log'), cri(now, 'retry me'));
    const got: LogRecord[] = [];
    let fail = true;
    const s = new FileSource(
      { patterns: [join(root, 'refused', 'pods', '*', '*', '*.log')], positionsFile: join(root, 'refused', 'positions.json'), cluster: 'c', tenant: 'default', maxLineBytes: 1 << 16, retentionMs: 30 * 86_400_000 },
      {
        publish: async (_t, payload) => {
          if (fail) throw new Error('store away');
          got.push(...(payload as LogRecord[]));
        },
      },
      silentLogger,
    );
    await s.poll();
    expect(got).toEqual([]);
    fail = false;
    await s.poll();
    expect(texts(got)).toEqual(['retry me']);
    s.close();
  });
});

describe('the file source in a running engine', () => {
  let t: TestEngine;
  const dir = join(root, 'engine', 'pods', 'payments_ledger-0_11111111-2222-3333-4444-555555555555', 'writer');

  beforeAll(async () => {
    mkdirSync(dir, { recursive: true });
    t = await startTestEngine([
      { path: ['logs', 'files', 'paths'], value: [join(root, 'engine', 'pods', '*', '*', '*.log')] },
      { path: ['logs', 'files', 'pollInterval'], value: '100ms' },
      { path: ['logs', 'cluster'], value: 'prod-us' },
    ]);
  });

  afterAll(async () => {
    await t?.close();
  });

  async function search(q: string): Promise<{ lines: { line: string; labels: Record<string, string> }[] }> {
    const res = await t.engine.app.inject({ url: `/api/v1/logs/search?${new URLSearchParams({ q, since: '1h' })}` });
    expect(res.statusCode, res.body).toBe(200);
    return res.json();
  }

  async function until(check: () => Promise<boolean>): Promise<void> {
    const deadline = Date.now() + 15_000;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error('timed out');
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  it('finds lines of a file rotated while tailed, with the labels of its path', async () => {
    const log = join(dir, '0.log');
    writeFileSync(log, cri(Date.now(), 'ledger entry txn-9001 committed'));
    await until(async () => (await search('txn-9001')).lines.length === 1);
    renameSync(log, `${log}.20261129-233000`);
    appendFileSync(`${log}.20261129-233000`, cri(Date.now(), 'ledger entry txn-9002 committed'));
    writeFileSync(log, cri(Date.now(), 'ledger entry txn-9003 committed'));
    await until(async () => (await search('ledger committed')).lines.length === 3);
    const found = await search('txn-9002');
    expect(found.lines).toHaveLength(1);
    expect(found.lines[0]!.labels).toEqual({ cluster: 'prod-us', namespace: 'payments', workload: 'ledger', pod: 'ledger-0', container: 'writer', stream: 'stdout' });
    // Each line once.
    expect((await search('ledger')).lines.map((l) => l.line).sort()).toEqual(['ledger entry txn-9001 committed', 'ledger entry txn-9002 committed', 'ledger entry txn-9003 committed']);
  });
});
