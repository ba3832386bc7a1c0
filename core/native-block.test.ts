// encodeNativeBlock's column kinds, read back by ClickHouse itself: what the
// engine decodes is what was meant (a wrong offset or a byte out of place
// fails the insert or shifts every later value).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store, encodeNativeBlock } from './store.ts';

let store: Store;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tidemark-native-block-'));
  store = await Store.open({ dataPath: dir, database: 'native_block_test' });
  await store.command('CREATE DATABASE IF NOT EXISTS native_block_test');
  await store.command(
    'CREATE TABLE native_block_test.t (n UInt64, s String, m Map(LowCardinality(String), String)) ENGINE = MergeTree ORDER BY n',
  );
});

afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('encodeNativeBlock', () => {
  it('writes a Map column: shared map objects, an empty map, UTF-8 keys and values, in row order', async () => {
    const shared = { cluster: 'c1', namespace: 'shop' };
    const maps: Record<string, string>[] = [shared, {}, { 'ключ': 'значение ✓', z: '' }, shared, { only: 'one' }];
    const n = new BigUint64Array([1n, 2n, 3n, 4n, 5n]);
    await store.insertNative(
      't',
      'n, s, m',
      'n, s, m',
      [
        { name: 'n', type: 'UInt64', data: n },
        { name: 'm', type: 'Map(String, String)', data: maps },
        { name: 's', type: 'String', data: ['a', 'b', 'c', 'd', 'e'] },
      ],
      maps.length,
    );
    const rows = await store.query<{ n: string; s: string; m: Record<string, string> }>('SELECT toString(n) AS n, s, m FROM native_block_test.t ORDER BY n');
    expect(rows).toEqual([
      { n: '1', s: 'a', m: { cluster: 'c1', namespace: 'shop' } },
      { n: '2', s: 'b', m: {} },
      { n: '3', s: 'c', m: { 'ключ': 'значение ✓', z: '' } },
      { n: '4', s: 'd', m: { cluster: 'c1', namespace: 'shop' } },
      { n: '5', s: 'e', m: { only: 'one' } },
    ]);
  });

  it('writes the offsets of a Map column as little-endian UInt64 running totals', () => {
    const block = encodeNativeBlock([{ name: 'm', type: 'Map(String, String)', data: [{ a: 'x' }, {}, { b: 'y', c: 'z' }] }], 3);
    // Header: 1 column, 3 rows, name "m", type "Map(String, String)"; then 3 offsets.
    const at = 2 + 1 + 1 + 1 + 'Map(String, String)'.length;
    expect([0, 1, 2].map((i) => block.readBigUInt64LE(at + i * 8))).toEqual([1n, 1n, 3n]);
    // Then the keys a, b, c and the values x, y, z, each a length byte and its bytes.
    expect(block.subarray(at + 24).toString('latin1')).toBe('\x01a\x01b\x01c\x01x\x01y\x01z');
  });
});

describe('encodeNativeBlock strings', () => {
  it('prefixes each string with its UTF-8 byte length, also where that length needs a longer prefix than its character count', () => {
    // 100 characters of 2 bytes: 100 fits one varint byte, 200 needs two.
    const wide = 'é'.repeat(100);
    const ascii = 'a'.repeat(300);
    const block = encodeNativeBlock([{ name: 's', type: 'String', data: [wide, ascii, '', '✓'] }], 4);
    let at = 1 + 1 + 2 + 7; // columns, rows, "s", "String"
    const read = () => {
      let len = 0;
      for (let shift = 1; ; shift *= 128) {
        const b = block[at++]!;
        len += (b & 0x7f) * shift;
        if (b < 0x80) break;
      }
      const s = block.subarray(at, at + len).toString('utf8');
      at += len;
      return s;
    };
    expect([read(), read(), read(), read()]).toEqual([wide, ascii, '', '✓']);
    expect(at).toBe(block.length);
  });
});
