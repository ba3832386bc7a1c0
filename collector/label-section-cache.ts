// The remote_write decoder's series cache: series ids by the 64-bit hash of
// a series' raw label-section bytes (label-hash.ts), in typed arrays with
// open addressing rather than a Map of entry objects. A Map entry with its
// object, boxed hash and BigInt id cost about 150 bytes of heap per series
// and gave the collector work for every one; a slot here is 20 bytes
// (hash low half, high half, section length, id low and high words), and
// the decoder writes the id words straight into its output column, so a
// known series costs no allocation at all.
//
// Bounded by two generations: when the newer holds half the capacity the
// older is dropped whole (its arrays reused as the new one), and an entry
// found in the older is promoted. Two different label sections of equal
// length with the same 64-bit hash would share an id (odds about n²/2^65
// for n series).

/** Int32s per slot: hash, check, length + 1 (0 marks an empty slot), id low word, id high word. */
const SLOT = 5;
const MIN_SLOTS = 1024;
/** Entries per slot before the table doubles: linear probing stays short below this. */
const MAX_LOAD = 0.7;

/** One open-addressing table of label-section entries. */
export class SectionTable {
  private slots: Int32Array;
  private mask: number;
  count = 0;

  constructor(slots = MIN_SLOTS) {
    let n = MIN_SLOTS;
    while (n < slots) n *= 2;
    this.slots = new Int32Array(n * SLOT);
    this.mask = n - 1;
  }

  /** The slot index of an entry, or -1. */
  find(hash: number, check: number, length: number): number {
    const at = this.probe(hash, check, length + 1);
    return this.slots[at + 2] === 0 ? -1 : at;
  }

  /** The slot holding the entry, or the empty slot where it would go (linear probing). */
  private probe(hash: number, check: number, tag: number): number {
    const s = this.slots;
    const mask = this.mask;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const at = i * SLOT;
      const l = s[at + 2]!;
      if (l === 0 || (s[at] === hash && s[at + 1] === check && l === tag)) return at;
    }
  }

  /** The id's low word at a slot found by find(). */
  low(at: number): number {
    return this.slots[at + 3]! >>> 0;
  }

  /** The id's high word at a slot found by find(). */
  high(at: number): number {
    return this.slots[at + 4]! >>> 0;
  }

  /** Adds (or overwrites) an entry; the id as its two 32-bit words. */
  insert(hash: number, check: number, length: number, low: number, high: number): void {
    if ((this.count + 1) > (this.mask + 1) * MAX_LOAD) this.grow();
    const s = this.slots;
    const tag = length + 1;
    const at = this.probe(hash, check, tag);
    if (s[at + 2] === 0) this.count++;
    s[at] = hash;
    s[at + 1] = check;
    s[at + 2] = tag;
    s[at + 3] = low;
    s[at + 4] = high;
  }

  /** Forgets every entry, keeping the arrays. */
  clear(): void {
    if (this.count === 0) return;
    this.slots.fill(0);
    this.count = 0;
  }

  /** Bytes held by the table's arrays. */
  get bytes(): number {
    return this.slots.byteLength;
  }

  private grow(): void {
    const old = this.slots;
    const n = (this.mask + 1) * 2;
    this.slots = new Int32Array(n * SLOT);
    this.mask = n - 1;
    this.count = 0;
    for (let at = 0; at < old.length; at += SLOT) {
      if (old[at + 2] !== 0) this.insert(old[at]!, old[at + 1]!, old[at + 2]! - 1, old[at + 3]!, old[at + 4]!);
    }
  }
}

/** A bigint series id as its two 32-bit words. */
export function idWords(id: bigint): [low: number, high: number] {
  return [Number(id & 0xffffffffn), Number((id >> 32n) & 0xffffffffn)];
}

/** Series ids by label-section hash, bounded (two generations, see the top of this file). */
export class LabelSectionCache {
  private current = new SectionTable();
  private previous = new SectionTable();

  constructor(readonly capacity: number) {
    if (!(capacity >= 2)) throw new RangeError('series cache capacity must be at least 2');
  }

  /**
   * Looks an entry up, promoting it out of the older generation. Returns
   * the table and slot to read its id words from (low() and high()), or
   * null. The slot is only valid until the next insert.
   */
  lookup(hash: number, check: number, length: number): { table: SectionTable; at: number } | null {
    let at = this.current.find(hash, check, length);
    if (at >= 0) return { table: this.current, at };
    at = this.previous.find(hash, check, length);
    if (at < 0) return null;
    this.add(hash, check, length, this.previous.low(at), this.previous.high(at));
    return this.lookup(hash, check, length);
  }

  /**
   * The id words of an entry into `out` at `index` (low, high), promoting
   * it out of the older generation; false when unknown. The decoder's hot
   * path: no allocation.
   */
  copyId(hash: number, check: number, length: number, out: Uint32Array, index: number): boolean {
    const current = this.current;
    let at = current.find(hash, check, length);
    if (at < 0) {
      const previous = this.previous;
      at = previous.find(hash, check, length);
      if (at < 0) return false;
      out[index] = previous.low(at);
      out[index + 1] = previous.high(at);
      this.add(hash, check, length, out[index]!, out[index + 1]!);
      return true;
    }
    out[index] = current.low(at);
    out[index + 1] = current.high(at);
    return true;
  }

  get(hash: number, check: number, length: number): bigint | undefined {
    const found = this.lookup(hash, check, length);
    if (!found) return undefined;
    return (BigInt(found.table.high(found.at)) << 32n) | BigInt(found.table.low(found.at));
  }

  set(hash: number, check: number, length: number, id: bigint): void {
    const [low, high] = idWords(id);
    this.add(hash, check, length, low, high);
  }

  /** Adds an entry by its id words. */
  add(hash: number, check: number, length: number, low: number, high: number): void {
    if (this.current.count * 2 >= this.capacity) {
      const dropped = this.previous;
      this.previous = this.current;
      dropped.clear();
      this.current = dropped;
    }
    this.current.insert(hash, check, length, low, high);
  }

  /** Adds the entries of a packed list (FRESH_WORDS Int32s each, see remote-write.ts). */
  addPacked(entries: Int32Array): void {
    for (let i = 0; i + 4 < entries.length; i += 5) this.add(entries[i]!, entries[i + 1]!, entries[i + 2]!, entries[i + 3]!, entries[i + 4]!);
  }

  get size(): number {
    return this.current.count + this.previous.count;
  }

  /** Bytes held by both generations' arrays. */
  get bytes(): number {
    return this.current.bytes + this.previous.bytes;
  }
}
