// The bus log on disk: an append-only sequence of segment files in one
// directory, each named by the log position it starts at, plus the log's
// identity (drawn when the log is created, so that delivery tokens built
// from positions never repeat across logs sharing a store).
//
// Group commit on the fsync: appends made while a write+fdatasync is under
// way wait and go together in the next one, so many publishes share one
// sync and none waits for more than two. Opening reads every entry back (for
// the replay), and truncates a torn tail: a kill -9 mid-write leaves a
// partial frame, which can never hold anything acknowledged, since an append
// is acknowledged only after the sync that covers it. A segment becomes
// read-only once the next begins (it is synced before), and is deleted once
// everything in it is handled.
import { randomUUID } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { frameEntry, framedLength, readEntries, type LogEntry, type PositionedEntry } from './entries.ts';
import { SyncWriter } from './sync-writer.ts';

export interface AppendLogOptions {
  dir: string;
  /** A segment past this many bytes is closed and the next append starts a new one. */
  segmentBytes: number;
}

export interface OpenedLog {
  log: AppendLog;
  /** Every intact entry, in log order. */
  entries: PositionedEntry[];
  /** Torn or corrupt frames found (and cut off), one message each. */
  torn: string[];
}

export interface AppendLogStats {
  appends: number;
  /** write+fdatasync rounds: appends / syncs is how many share one. */
  syncs: number;
  bytes: number;
  /** Time in fdatasync itself. */
  syncSeconds: number;
  /** Time from a round's start until its appends are durable (the write, the sync, the hand-offs). */
  roundSeconds: number;
  segmentsDeleted: number;
}

interface Segment {
  base: number;
  path: string;
}

const SEGMENT = /^(\d{20})\.seg$/;

function segmentName(base: number): string {
  return `${String(base).padStart(20, '0')}.seg`;
}

/** fsync of a directory, so that a file created, renamed or removed in it is durably so. */
async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export class AppendLog {
  readonly stats: AppendLogStats = { appends: 0, syncs: 0, bytes: 0, syncSeconds: 0, roundSeconds: 0, segmentsDeleted: 0 };
  /** Set when a write or sync failed: every later append is refused (restart to recover). */
  failure: Error | null = null;
  /** Position the next append gets. */
  private next: number;
  private pending: Buffer[] = [];
  private waiting: { resolve(): void; reject(e: Error): void }[] = [];
  private writing: Promise<void> | null = null;
  private activeBytes: number;
  private deleting: Promise<unknown> = Promise.resolve();
  private closed = false;
  private readonly writer = new SyncWriter();

  private constructor(
    readonly dir: string,
    readonly identity: string,
    private readonly segmentBytes: number,
    private readonly segments: Segment[],
    private fh: FileHandle,
    end: number,
  ) {
    this.next = end;
    this.activeBytes = end - segments[segments.length - 1]!.base;
  }

  static async open(options: AppendLogOptions): Promise<OpenedLog> {
    const { dir } = options;
    await mkdir(dir, { recursive: true });
    const segments: Segment[] = (await readdir(dir))
      .map((name) => SEGMENT.exec(name))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => ({ base: Number(m[1]), path: join(dir, m[0]) }))
      .sort((a, b) => a.base - b.base);
    const identityFile = join(dir, 'identity');
    let identity = segments.length > 0 ? await readFile(identityFile, 'utf8').then((s) => s.trim(), () => '') : '';
    if (!identity) {
      // A new log (or one whose segments are all gone): positions start again, so tokens need a new identity.
      identity = randomUUID();
      await writeFile(`${identityFile}.tmp`, identity, { flush: true });
      await rename(`${identityFile}.tmp`, identityFile);
    }
    const entries: PositionedEntry[] = [];
    const torn: string[] = [];
    let end = 0;
    for (const [i, s] of segments.entries()) {
      const bytes = await readFile(s.path);
      const read = readEntries(bytes, s.base);
      for (const e of read.entries) entries.push(e);
      end = s.base + read.validBytes;
      if (read.torn) {
        torn.push(`${s.path}: ${read.torn}`);
        // Only the last segment can be torn by a crash (earlier ones were synced before the next began);
        // either way nothing after the tear in this segment is readable, so it is cut off.
        const fh = await open(s.path, 'r+');
        try {
          await fh.truncate(read.validBytes);
          await fh.datasync();
        } finally {
          await fh.close();
        }
      }
      if (i < segments.length - 1) end = segments[i + 1]!.base;
    }
    if (segments.length === 0) segments.push({ base: 0, path: join(dir, segmentName(0)) });
    const active = segments[segments.length - 1]!;
    const fh = await open(active.path, 'a');
    await syncDir(dir);
    return { log: new AppendLog(dir, identity, options.segmentBytes, segments, fh, end), entries, torn };
  }

  /** Where the next append goes. */
  get end(): number {
    return this.next;
  }

  /**
   * Appends an entry; returns its position at once and a promise that
   * resolves once it is durable (written and fdatasync'd with whatever else
   * was appended meanwhile).
   */
  append(entry: LogEntry): { position: number; durable: Promise<void> } {
    const parts = frameEntry(entry);
    const position = this.next;
    if (this.failure || this.closed) {
      const refused = Promise.reject(this.failure ?? new Error('the bus log is closed'));
      refused.catch(() => {});
      return { position, durable: refused };
    }
    this.next += framedLength(parts);
    for (const p of parts) this.pending.push(p);
    this.stats.appends++;
    const durable = new Promise<void>((resolve, reject) => this.waiting.push({ resolve, reject }));
    // Callers that do not wait (handled marks) must not turn a failed write into an unhandled rejection.
    durable.catch(() => {});
    this.writing ??= this.writeLoop();
    return { position, durable };
  }

  /** Writes and syncs what is pending, round after round, until nothing is. */
  private async writeLoop(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        const parts = this.pending;
        const waiting = this.waiting;
        this.pending = [];
        this.waiting = [];
        const started = performance.now();
        try {
          if (this.activeBytes >= this.segmentBytes) await this.roll();
          const { bytes, syncMs } = await this.writer.write(this.fh.fd, parts);
          this.stats.syncSeconds += syncMs / 1000;
          this.stats.roundSeconds += (performance.now() - started) / 1000;
          this.stats.syncs++;
          this.stats.bytes += bytes;
          this.activeBytes += bytes;
          for (const w of waiting) w.resolve();
        } catch (e) {
          this.failure ??= e as Error;
          for (const w of [...waiting, ...this.waiting.splice(0)]) w.reject(this.failure);
          this.pending = [];
          return;
        }
      }
    } finally {
      this.writing = null;
    }
  }

  /** Starts the next segment at the current end of the written log (the active one is already synced). */
  private async roll(): Promise<void> {
    const base = this.segments[this.segments.length - 1]!.base + this.activeBytes;
    const segment = { base, path: join(this.dir, segmentName(base)) };
    const fh = await open(segment.path, 'a');
    await syncDir(this.dir);
    await this.fh.close();
    this.fh = fh;
    this.segments.push(segment);
    this.activeBytes = 0;
  }

  /**
   * Deletes the oldest segments that lie wholly before `position` (every
   * entry in them handled); never the segment being written. Returns how
   * many were deleted.
   */
  deleteBefore(position: number): Promise<number> {
    const run = this.deleting.then(async () => {
      let deleted = 0;
      while (this.segments.length > 1 && this.segments[1]!.base <= position) {
        await unlink(this.segments[0]!.path);
        // One at a time, oldest first, each durably gone before the next: the log stays a suffix.
        await syncDir(this.dir);
        this.segments.shift();
        deleted++;
        this.stats.segmentsDeleted++;
      }
      return deleted;
    });
    this.deleting = run.catch(() => 0);
    return run;
  }

  /** Segment files now on disk, oldest first. */
  segmentFiles(): string[] {
    return this.segments.map((s) => s.path);
  }

  /** Finishes pending writes and closes the active segment. */
  async close(): Promise<void> {
    if (this.closed) return;
    while (this.writing) await this.writing;
    this.closed = true;
    await this.deleting;
    await this.fh.close();
    await this.writer.close();
  }
}
