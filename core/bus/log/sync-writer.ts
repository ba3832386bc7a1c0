// The bus log's writes and fdatasyncs, on a thread of their own. Node runs
// asynchronous file calls on libuv's small shared pool (4 threads), where
// the embedded store's statements also run, each holding a thread for as
// long as it takes: a sync queued behind them waited 200+ ms in the engine
// under load where the disk itself took 2-10 ms, and every logged
// acknowledgement waits for a sync. So one worker thread does the blocking
// writev + fdatasync on the segment's descriptor, and nothing else.
import { Worker } from 'node:worker_threads';

// Plain CommonJS, evaluated: the worker needs no file beside the build and no TypeScript loader.
const WORKER = `
const { parentPort } = require('node:worker_threads');
const { writevSync, fdatasyncSync } = require('node:fs');
parentPort.on('message', ({ id, fd, parts }) => {
  try {
    let bytes = 0;
    let rest = parts;
    while (rest.length > 0) {
      let written = writevSync(fd, rest.slice(0, 1024));
      bytes += written;
      // A short write: go on from the first byte not written.
      let i = 0;
      while (i < rest.length && written >= rest[i].length) written -= rest[i++].length;
      rest = rest.slice(i);
      if (written > 0) rest[0] = rest[0].subarray(written);
    }
    const started = performance.now();
    fdatasyncSync(fd);
    parentPort.postMessage({ id, bytes, syncMs: performance.now() - started });
  } catch (e) {
    parentPort.postMessage({ id, error: String(e && e.message || e) });
  }
});
`;

export interface WriteResult {
  bytes: number;
  /** Time in fdatasync itself (not counting the wait for the thread). */
  syncMs: number;
}

export class SyncWriter {
  private readonly worker = new Worker(WORKER, { eval: true });
  private readonly waiting = new Map<number, { resolve(r: WriteResult): void; reject(e: Error): void }>();
  private next = 0;
  /** Why the thread is gone, once it is: later writes are refused rather than left waiting. */
  private dead: Error | null = null;

  constructor() {
    this.worker.on('message', (m: { id: number; bytes?: number; syncMs?: number; error?: string }) => {
      const w = this.waiting.get(m.id);
      if (!w) return;
      this.waiting.delete(m.id);
      if (this.waiting.size === 0) this.worker.unref();
      if (m.error !== undefined) w.reject(new Error(m.error));
      else w.resolve({ bytes: m.bytes!, syncMs: m.syncMs! });
    });
    this.worker.on('error', (e) => this.failAll(e));
    this.worker.on('exit', () => this.failAll(new Error('the bus log writer thread exited')));
    // Idle, the thread does not keep the process alive; a write in flight does.
    this.worker.unref();
  }

  /** Writes `parts` at the end of the file open on `fd` (append mode) and fdatasyncs it. */
  write(fd: number, parts: readonly Uint8Array[]): Promise<WriteResult> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.next++;
    return new Promise<WriteResult>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.worker.ref();
      // Copied to the thread (structured clone): payload buffers stay the bus's.
      this.worker.postMessage({ id, fd, parts });
    });
  }

  private failAll(e: Error): void {
    this.dead ??= e;
    for (const w of this.waiting.values()) w.reject(e);
    this.waiting.clear();
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }
}
