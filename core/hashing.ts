// Small deterministic helpers shared by partitioning, planning and benches:
// a 32-bit string hash and a seeded pseudo-random generator. Not for
// anything security-sensitive.

/** FNV-1a over a string's UTF-16 code units, as an unsigned 32-bit number. */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** mulberry32: a seeded generator of numbers in [0, 1), so runs that share a seed replay alike. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
