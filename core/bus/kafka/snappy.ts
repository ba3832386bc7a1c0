// Snappy for kafkajs through the native `snappy` package (already a
// dependency; kafkajs ships only GZIP). Importing this module registers it.
import kafkajs from 'kafkajs';
import snappy from 'snappy';

// Java producers frame snappy the xerial way; reading that frame too keeps
// the topics readable whoever wrote them.
const XERIAL_HEADER = Buffer.from([130, 83, 78, 65, 80, 80, 89, 0]);
const snappyCodec = {
  async compress(encoder: { buffer: Buffer }): Promise<Buffer> {
    return snappy.compressSync(encoder.buffer);
  },
  async decompress(buffer: Buffer): Promise<Buffer> {
    if (buffer.length < 16 || !buffer.subarray(0, 8).equals(XERIAL_HEADER)) return snappy.uncompressSync(buffer) as Buffer;
    const chunks: Buffer[] = [];
    for (let at = 16; at < buffer.length; ) {
      const size = buffer.readInt32BE(at);
      chunks.push(snappy.uncompressSync(buffer.subarray(at + 4, at + 4 + size)) as Buffer);
      at += 4 + size;
    }
    return Buffer.concat(chunks);
  },
};
kafkajs.CompressionCodecs[kafkajs.CompressionTypes.Snappy] = () => snappyCodec;
