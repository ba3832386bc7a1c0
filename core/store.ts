// The store: the one way to ClickHouse. Embedded chDB by default (a data
// directory in this process), or a ClickHouse server when CLICKHOUSE_URL is
// set; the same @clickhouse/client API and SQL either way. Every table carries
// a tenant column and every read helper here takes the tenant as a parameter.
import { createClient, type ClickHouseClient, type ClickHouseSettings } from '@clickhouse/client';
import { createChdbConnection } from 'chdb/connection';
import { mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export interface StoreOptions {
  /** Embedded mode: the chDB data directory. */
  dataPath: string;
  /** Server mode: e.g. http://127.0.0.1:8123; when absent the embedded engine is used. */
  url?: string;
  user?: string;
  password?: string;
  /** The database Tidemark's tables live in. */
  database: string;
  /** Server mode: emit ON CLUSTER DDL with Replicated and Distributed tables. */
  cluster?: string;
}

export type QueryParams = Record<string, unknown>;

/** A column of a binary (Native format) insert: numbers as the raw little-endian bytes of a typed array, strings as they are. */
export type NativeColumn =
  | { readonly name: string; readonly type: 'UInt64' | 'Int64' | 'Float64' | 'UInt32' | 'UInt8'; readonly data: ArrayBufferView }
  | { readonly name: string; readonly type: 'String'; readonly data: readonly string[] }
  | { readonly name: string; readonly type: 'Array(String)'; readonly data: readonly (readonly string[])[] }
  /**
   * A string map per row. Rows that share one map object (a log stream's labels) are encoded once
   * and copied as bytes: the block's cost is then per stream, not per row and key.
   */
  | { readonly name: string; readonly type: 'Map(String, String)'; readonly data: readonly Readonly<Record<string, string>>[] };

export class Store {
  readonly embedded: boolean;
  private readonly scratchDir: string;
  /**
   * Embedded only: chDB keeps one session, and a setting passed with one
   * query stays set for every later one (a deduplication token made the next
   * token-less insert vanish; a query's max_execution_time bound every later
   * insert). Each call therefore sends every setting any earlier call set,
   * at its default unless this call sets it. Server mode needs none of this.
   */
  private readonly settingDefaults = new Map<string, string>();
  private readonly settingsSeen = new Set<string>();

  private constructor(
    readonly client: ClickHouseClient,
    readonly options: StoreOptions,
  ) {
    this.embedded = !options.url;
    this.scratchDir = join(existsShm() ? '/dev/shm' : tmpdir(), `tidemark-${process.pid}-${randomUUID().slice(0, 8)}`);
  }

  static async open(options: StoreOptions): Promise<Store> {
    let client: ClickHouseClient;
    if (options.url) {
      client = createClient({
        url: options.url,
        username: options.user,
        password: options.password,
        request_timeout: 60_000,
        clickhouse_settings: { date_time_input_format: 'best_effort' },
      });
    } else {
      const path = resolve(options.dataPath);
      mkdirSync(path, { recursive: true });
      client = createClient({ connection: createChdbConnection({ path }) } as Parameters<typeof createClient>[0]);
    }
    const store = new Store(client, options);
    if (store.embedded) {
      const rows = await store.query<{ name: string; default: string }>('SELECT name, default FROM system.settings');
      for (const row of rows) store.settingDefaults.set(row.name, row.default);
    }
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(options.database)) {
      throw new Error(`store.database: "${options.database}" is not a valid database name`);
    }
    await store.command(`CREATE DATABASE IF NOT EXISTS ${options.database}${options.cluster ? ` ON CLUSTER ${options.cluster}` : ''}`);
    return store;
  }

  /** The settings to send with one call: see `settingDefaults`. */
  private scoped(settings: ClickHouseSettings | undefined): ClickHouseSettings | undefined {
    if (!this.embedded) return settings;
    const own = (settings ?? {}) as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const name of this.settingsSeen) {
      if (!(name in own) && this.settingDefaults.has(name)) out[name] = this.settingDefaults.get(name);
    }
    for (const name of Object.keys(own)) this.settingsSeen.add(name);
    return { ...out, ...own } as ClickHouseSettings;
  }

  get database(): string {
    return this.options.database;
  }

  /** Fully qualified table name. */
  table(name: string): string {
    return `${this.options.database}.${name}`;
  }

  async command(sql: string, params?: QueryParams, settings?: ClickHouseSettings): Promise<void> {
    await this.client.command({ query: sql, query_params: params, clickhouse_settings: this.scoped(settings) });
  }

  async query<T>(sql: string, params?: QueryParams, settings?: ClickHouseSettings): Promise<T[]> {
    const result = await this.client.query({
      query: sql,
      query_params: params,
      format: 'JSONEachRow',
      clickhouse_settings: this.scoped({ output_format_json_quote_64bit_integers: 0, ...settings }),
    });
    return (await result.json()) as T[];
  }

  /** The result as text in the given format (e.g. JSONEachRow lines), for answers passed on without parsing. */
  async queryText(
    sql: string,
    params?: QueryParams,
    settings?: ClickHouseSettings,
    format: 'JSONEachRow' | 'JSONCompactEachRow' | 'CSV' | 'TabSeparated' = 'JSONEachRow',
    control: { queryId?: string; signal?: AbortSignal } = {},
  ): Promise<string> {
    const result = await this.client.query({
      query: sql,
      query_params: params,
      format,
      query_id: control.queryId,
      abort_signal: control.signal,
      clickhouse_settings: this.scoped({ output_format_json_quote_64bit_integers: 0, ...settings }),
    });
    return result.text();
  }

  /** The raw bytes of a query's result in the given format, for answers passed on as they are. */
  async queryBytes(
    sql: string,
    format: 'JSONEachRow' | 'JSONCompactEachRow' | 'RowBinary',
    params?: QueryParams,
    settings?: ClickHouseSettings,
    control: { queryId?: string; signal?: AbortSignal } = {},
  ): Promise<Buffer> {
    const result = await this.client.exec({
      query: `${sql} FORMAT ${format}`,
      query_params: params,
      query_id: control.queryId,
      abort_signal: control.signal,
      clickhouse_settings: this.scoped({ output_format_json_quote_64bit_integers: 0, ...settings }),
    });
    const chunks: Buffer[] = [];
    for await (const chunk of result.stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array));
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
  }

  /** Small inserts of plain rows (configuration, reports, events). Bulk samples go through insertNative. */
  async insertRows(table: string, rows: readonly Record<string, unknown>[], settings?: ClickHouseSettings): Promise<void> {
    if (rows.length === 0) return;
    await this.client.insert({ table: this.table(table), values: rows as Record<string, unknown>[], format: 'JSONEachRow', clickhouse_settings: this.scoped(settings) });
  }

  /**
   * Bulk binary insert: columns are written as one Native-format block and
   * inserted through `INSERT INTO table SELECT <select> FROM input`. `select`
   * maps the raw columns onto the table's columns (conversions run inside
   * ClickHouse, vectorised). Embedded: the block goes through a file in
   * shared memory that the engine reads; server: it is streamed over HTTP.
   */
  async insertNative(
    table: string,
    targetColumns: string,
    select: string,
    columns: readonly NativeColumn[],
    rows: number,
    settings?: ClickHouseSettings,
    params?: QueryParams,
  ): Promise<void> {
    if (rows === 0) return;
    const block = encodeNativeBlock(columns, rows);
    const structure = columns.map((c) => `${c.name} ${c.type}`).join(', ');
    if (this.embedded) {
      mkdirSync(this.scratchDir, { recursive: true });
      const file = join(this.scratchDir, `${randomUUID()}.native`);
      writeFileSync(file, block);
      try {
        await this.command(
          `INSERT INTO ${this.table(table)} (${targetColumns}) SELECT ${select} FROM file('${file}', 'Native', '${structure}')`,
          params,
          settings,
        );
      } finally {
        rmSync(file, { force: true });
      }
    } else {
      await this.client.exec({
        query: `INSERT INTO ${this.table(table)} (${targetColumns}) SELECT ${select} FROM input('${structure}') FORMAT Native`,
        values: Readable.from([block]),
        query_params: params,
        clickhouse_settings: this.scoped(settings),
      });
    }
  }

  async ping(): Promise<boolean> {
    const r = await this.client.ping();
    return r.success;
  }

  async close(): Promise<void> {
    await this.client.close();
    rmSync(this.scratchDir, { recursive: true, force: true });
  }
}

function existsShm(): boolean {
  try {
    mkdirSync('/dev/shm', { recursive: true });
    return process.platform === 'linux';
  } catch {
    return false;
  }
}

/** Bytes of `v` as an unsigned LEB128 varint. */
function varintSize(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

/** Appends Native-format values to a growing buffer: varint lengths, strings, raw bytes. */
class NativeWriter {
  private buf = Buffer.allocUnsafe(1 << 16);
  private n = 0;

  private room(bytes: number): void {
    if (this.n + bytes <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.n + bytes));
    this.buf.copy(next, 0, 0, this.n);
    this.buf = next;
  }

  varint(v: number): void {
    this.room(10);
    while (v >= 0x80) {
      this.buf[this.n++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    this.buf[this.n++] = v;
  }

  string(s: string): void {
    // One pass: the length prefix is reserved for the UTF-16 length (the byte length of ASCII text,
    // the common case) and the text written after it; text with wider characters, whose byte length
    // needs a longer prefix, is moved up. Measuring every string first (Buffer.byteLength) then
    // writing it read each line twice.
    const guess = varintSize(s.length);
    // Room for the widest prefix and text, so that varint() below never moves the buffer.
    this.room(10 + s.length * 3);
    const written = this.buf.write(s, this.n + guess, 'utf8');
    const size = varintSize(written);
    if (size !== guess) this.buf.copy(this.buf, this.n + size, this.n + guess, this.n + guess + written);
    this.varint(written);
    this.n += written;
  }

  uint64(v: number): void {
    this.room(8);
    // Two 32-bit halves: no BigInt per value (offsets are written once per row).
    this.buf.writeUInt32LE(v >>> 0, this.n);
    this.buf.writeUInt32LE(Math.floor(v / 0x1_0000_0000) >>> 0, this.n + 4);
    this.n += 8;
  }

  bytes(view: ArrayBufferView): void {
    this.room(view.byteLength);
    if (Buffer.isBuffer(view)) view.copy(this.buf, this.n);
    else this.buf.set(new Uint8Array(view.buffer, view.byteOffset, view.byteLength), this.n);
    this.n += view.byteLength;
  }

  /** The bytes written since `from` (to copy an encoded run of values elsewhere). */
  since(from: number): Buffer {
    return Buffer.from(this.buf.subarray(from, this.n));
  }

  get length(): number {
    return this.n;
  }

  finish(): Buffer {
    return this.buf.subarray(0, this.n);
  }
}

/** One Native-format block: column and row counts, then each column's name, type and values. */
export function encodeNativeBlock(columns: readonly NativeColumn[], rows: number): Buffer {
  const w = new NativeWriter();
  w.varint(columns.length);
  w.varint(rows);
  for (const c of columns) {
    w.string(c.name);
    w.string(c.type);
    if (c.type === 'String') {
      for (const v of c.data) w.string(v);
    } else if (c.type === 'Map(String, String)') {
      writeMapColumn(w, c.data);
    } else if (c.type === 'Array(String)') {
      // Arrays: the cumulative end offset of each row, then every element.
      let end = 0;
      for (const row of c.data) w.uint64((end += row.length));
      for (const row of c.data) for (const v of row) w.string(v);
    } else {
      w.bytes(c.data);
    }
  }
  return w.finish();
}

/**
 * A Map column as Native writes it: the cumulative entry count of each row,
 * then every key, then every value. Each distinct map object is encoded
 * once (keys and values as two runs of bytes) and its runs copied per row.
 */
function writeMapColumn(w: NativeWriter, rows: readonly Readonly<Record<string, string>>[]): void {
  const encoded = new Map<Readonly<Record<string, string>>, { size: number; keys: Buffer; values: Buffer }>();
  const scratch = new NativeWriter();
  const of = (m: Readonly<Record<string, string>>) => {
    let e = encoded.get(m);
    if (!e) {
      const entries = Object.entries(m);
      let start = scratch.length;
      for (const [k] of entries) scratch.string(k);
      const keys = scratch.since(start);
      start = scratch.length;
      for (const [, v] of entries) scratch.string(v);
      encoded.set(m, (e = { size: entries.length, keys, values: scratch.since(start) }));
    }
    return e;
  };
  let end = 0;
  for (const m of rows) w.uint64((end += of(m).size));
  for (const m of rows) w.bytes(of(m).keys);
  for (const m of rows) w.bytes(of(m).values);
}

/** Quote a string as a ClickHouse string literal (for identifiers we build ourselves, never user values: those go in query params). */
export function sqlString(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}
