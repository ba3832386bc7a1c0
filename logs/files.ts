// The file source: tails Kubernetes CRI container log files (cri.ts) matched
// by `logs.files.paths` and publishes their entries on the bus, labelled from
// the path and `logs.cluster`.
//
// Read positions are kept per file identity (device and inode), written to
// `logs.files.positionsFile` only after the bus confirmed the lines (stored,
// or acknowledged by Kafka), so a restart resumes where the confirmed lines
// end. Rotation: the kubelet renames N.log and starts a new one; a file
// whose inode changed under its path is read to its end through the handle
// still open (or, after a restart, found by inode in its directory) before
// the new file is read from its start. copytruncate: a file shorter than its
// position is read again from the start. A file that disappears or is
// truncated is logged once and tailing goes on.
import { closeSync, existsSync, fstatSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, statSync, writeSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import fg from 'fast-glob';
import type { AppContext } from '../core/context.ts';
import type { Bus } from '../core/bus/bus.ts';
import type { LogRecord } from '../core/bus/records.ts';
import type { Logger } from '../core/log.ts';
import { parseDuration } from '../core/duration.ts';
import type { LogsConfig } from './config.ts';
import { PartialJoiner, parseCriLine, podLogLabels, podLogPath } from './cri.ts';
import { logRecord } from './record.ts';
import { lineLimits, timeProblem } from './limits.ts';

/** Most bytes read from one file per round, so one busy file cannot starve the others. */
const READ_CHUNK = 1 << 20;
const MAX_ROUND_BYTES = 8 << 20;

interface Position {
  /** `dev:ino` of the file the offset belongs to. */
  readonly id: string;
  /** Bytes confirmed (published and acknowledged). */
  readonly offset: number;
}

interface Tracked {
  path: string;
  id: string;
  fd: number;
  /** Bytes consumed into the joiner (>= confirmed). */
  read: number;
  /** Bytes whose entries are confirmed by the bus. */
  confirmed: number;
  joiner: PartialJoiner;
  /** Bytes after the last newline read, not yet a line. */
  rest: Buffer;
}

export interface FileSourceOptions {
  readonly patterns: readonly string[];
  readonly positionsFile: string;
  readonly cluster: string;
  readonly tenant: string;
  readonly maxLineBytes: number;
  readonly retentionMs: number;
}

function fileId(st: { dev: number; ino: number }): string {
  return `${st.dev}:${st.ino}`;
}

export class FileSource {
  private readonly tracked = new Map<string, Tracked>();
  private positions: Record<string, Position> = {};
  private readonly warned = new Set<string>();
  private savedText = '';
  /** Entries published since start. */
  published = 0;

  constructor(
    private readonly options: FileSourceOptions,
    private readonly bus: Pick<Bus, 'publish'>,
    private readonly log: Logger,
  ) {
    try {
      if (existsSync(options.positionsFile)) this.positions = JSON.parse(readFileSync(options.positionsFile, 'utf8')) as Record<string, Position>;
    } catch (e) {
      this.log.warn({ err: (e as Error).message, file: options.positionsFile }, 'log read positions unreadable; reading files from their start');
    }
  }

  private warnOnce(key: string, details: object, message: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.log.warn(details, message);
  }

  /** One round: finds files, reads what is new in each, publishes it, records positions. */
  async poll(): Promise<void> {
    const paths = await fg([...this.options.patterns], { absolute: true, onlyFiles: true, followSymbolicLinks: true, suppressErrors: true });
    const seen = new Set(paths);
    for (const path of paths) await this.pollFile(path);
    for (const [path, t] of this.tracked) {
      if (seen.has(path)) continue;
      // Gone (pod deleted, or rotated away with no new file yet): read what is left through the open handle.
      await this.drain(t);
      this.warnOnce(`gone:${path}:${t.id}`, { file: path }, 'log file disappeared; its remaining lines were read');
      closeSync(t.fd);
      this.tracked.delete(path);
      delete this.positions[path];
    }
    this.savePositions();
  }

  private async pollFile(path: string): Promise<void> {
    let st;
    try {
      st = statSync(path);
    } catch {
      return;
    }
    const id = fileId(st);
    let t = this.tracked.get(path);
    if (t && t.id !== id) {
      // Rotated by rename: the old file's rest first, through its handle.
      await this.drain(t);
      closeSync(t.fd);
      this.tracked.delete(path);
      t = undefined;
    }
    if (!t) {
      const saved = this.positions[path];
      if (saved && saved.id !== id) await this.finishRotatedWhileAway(path, saved);
      let fd: number;
      try {
        fd = openSync(path, 'r');
      } catch (e) {
        this.warnOnce(`open:${path}`, { file: path, err: (e as Error).message }, 'cannot open log file');
        return;
      }
      const offset = saved && saved.id === id && saved.offset <= st.size ? saved.offset : 0;
      t = { path, id, fd, read: offset, confirmed: offset, joiner: new PartialJoiner(), rest: Buffer.alloc(0) };
      this.tracked.set(path, t);
    }
    if (st.size < t.read) {
      this.warnOnce(`truncated:${path}:${t.read}`, { file: path, size: st.size, position: t.read }, 'log file truncated (copytruncate); reading it from the start');
      t.read = t.confirmed = 0;
      t.rest = Buffer.alloc(0);
      t.joiner = new PartialJoiner();
    }
    await this.drain(t);
  }

  /** After a restart, the file a saved position belongs to may sit beside its path under a rotated name: finish it. */
  private async finishRotatedWhileAway(path: string, saved: Position): Promise<void> {
    const dir = dirname(path);
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names) {
      const full = join(dir, name);
      try {
        const st = statSync(full);
        if (fileId(st) !== saved.id || st.size < saved.offset) continue;
        const fd = openSync(full, 'r');
        const t: Tracked = { path, id: saved.id, fd, read: saved.offset, confirmed: saved.offset, joiner: new PartialJoiner(), rest: Buffer.alloc(0) };
        await this.drain(t);
        closeSync(fd);
        return;
      } catch {
        // A file that vanished meanwhile: nothing to finish.
      }
    }
  }

  /** Reads new bytes of a tracked file through its handle and publishes the complete entries. */
  private async drain(t: Tracked): Promise<void> {
    const pod = podLogPath(t.path);
    const base = pod ? podLogLabels(pod, this.options.cluster) : { cluster: this.options.cluster, filename: t.path };
    const limits = lineLimits(Date.now(), this.options.retentionMs, this.options.maxLineBytes);
    let size: number;
    try {
      size = fstatSync(t.fd).size;
    } catch {
      return;
    }
    let budget = MAX_ROUND_BYTES;
    while (t.read < size && budget > 0) {
      const want = Math.min(READ_CHUNK, size - t.read, budget);
      const chunk = Buffer.allocUnsafe(want);
      const got = readSync(t.fd, chunk, 0, want, t.read);
      if (got <= 0) break;
      budget -= got;
      const data = t.rest.length > 0 ? Buffer.concat([t.rest, chunk.subarray(0, got)]) : chunk.subarray(0, got);
      const start = t.read - t.rest.length;
      const records: LogRecord[] = [];
      let lineStart = 0;
      let confirmedEnd = t.confirmed;
      for (let nl = data.indexOf(10); nl >= 0; nl = data.indexOf(10, lineStart)) {
        const entry = parseCriLine(data.toString('utf8', lineStart, nl));
        lineStart = nl + 1;
        if (!entry) {
          this.warnOnce(`format:${t.path}`, { file: t.path }, 'a line of this log file is not in the CRI format; such lines are skipped');
        } else {
          const done = t.joiner.push(entry, this.options.maxLineBytes);
          if (done) {
            const problem = timeProblem(Number(done.tsNs / 1_000_000n), limits);
            if (problem) this.warnOnce(`time:${t.path}`, { file: t.path, problem }, 'log lines out of the accepted time range are skipped');
            else records.push(this.record({ ...base, stream: done.stream }, done.tsNs, done.text));
          }
        }
        // A position is confirmed only where no partial entry is open: a restart re-reads an open one whole.
        if (!t.joiner.pending) confirmedEnd = start + lineStart;
      }
      t.rest = Buffer.from(data.subarray(lineStart));
      if (t.rest.length > this.options.maxLineBytes * 2) t.rest = Buffer.alloc(0);
      if (records.length > 0) {
        // Resolves once stored (memory bus) or acknowledged (Kafka); a failure leaves the position where it was.
        try {
          await this.bus.publish('logs', records);
        } catch (e) {
          this.warnOnce(`publish:${t.path}`, { file: t.path, err: (e as Error).message }, 'cannot publish log lines; retrying from the last confirmed position');
          t.read = t.confirmed;
          t.rest = Buffer.alloc(0);
          t.joiner = new PartialJoiner();
          return;
        }
        this.published += records.length;
      }
      t.read += got;
      t.confirmed = confirmedEnd;
      this.positions[t.path] = { id: t.id, offset: t.confirmed };
    }
  }

  private record(labels: Record<string, string>, tsNs: bigint, line: string): LogRecord {
    return logRecord(this.options.tenant, labels, tsNs.toString(), Number(tsNs / 1_000_000n), line);
  }

  /** Writes positions atomically and durably (temporary file, fsync, rename), only when they changed. */
  savePositions(): void {
    const text = JSON.stringify(this.positions);
    if (text === this.savedText) return;
    const file = this.options.positionsFile;
    mkdirSync(dirname(file), { recursive: true });
    const fd = openSync(`${file}.tmp`, 'w');
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(`${file}.tmp`, file);
    this.savedText = text;
  }

  close(): void {
    for (const t of this.tracked.values()) closeSync(t.fd);
    this.tracked.clear();
  }
}

/** Starts the file source when `logs.files.paths` names any; polls until the engine stops. */
export async function startLogFiles(ctx: AppContext<LogsConfig>): Promise<FileSource | null> {
  const { config } = ctx;
  if (config.logs.files.paths.length === 0) return null;
  const source = new FileSource(
    {
      patterns: config.logs.files.paths,
      positionsFile: resolve(config.logs.files.positionsFile ?? join(config.store.dataPath, 'logs-positions.json')),
      cluster: config.logs.cluster,
      tenant: config.tenant,
      maxLineBytes: config.logs.maxLineBytes,
      retentionMs: parseDuration(config.logs.retention, 'logs.retention'),
    },
    ctx.bus,
    ctx.log,
  );
  const interval = parseDuration(config.logs.files.pollInterval, 'logs.files.pollInterval');
  let stopped = false;
  let running: Promise<void> = Promise.resolve();
  const loop = async () => {
    while (!stopped) {
      running = source.poll().catch((e: unknown) => ctx.log.error({ err: (e as Error).message }, 'log file source round failed'));
      await running;
      if (!stopped) await new Promise((r) => setTimeout(r, interval).unref());
    }
  };
  void loop();
  ctx.onClose(async () => {
    stopped = true;
    await running;
    source.close();
  });
  return source;
}
