// Delivery intents: the commit-metadata protocol by which a consumer
// announces, before its handler stores anything, the offset range of the
// delivery it is about to hand over (`tidemark-delivery:<from>-<to>`,
// committed at offset <from>), so that whoever owns the partition after a
// crash replays exactly that range, with the same token. Pure functions over
// plain data; the consumer commits and reads the metadata.
import type { CommittedOffset } from './admin.ts';

/** The offset range of a delivery handed to a handler, recorded in the group's committed-offset metadata before the handler runs. */
export interface DeliveryIntent {
  from: bigint;
  to: bigint;
}

const INTENT = /^tidemark-delivery:(\d+)-(\d+)$/;

/** The metadata committed at offset `first` to announce a delivery of first..last. */
export function intentMetadata(first: string, last: string): string {
  return `tidemark-delivery:${first}-${last}`;
}

/** The token of a delivery: the same for the same range, whoever hands it over. */
export function deliveryToken(kafkaTopic: string, partition: number, first: string, last: string): string {
  return `${kafkaTopic}/${partition}/${first}-${last}`;
}

/**
 * The delivery a previous owner of the partition announced and may have
 * stored without committing (it crashed in between): only while the group's
 * committed offset still stands at the announced start.
 */
export function unfinishedIntent(committed: CommittedOffset | undefined): DeliveryIntent | null {
  const m = committed?.metadata ? INTENT.exec(committed.metadata) : null;
  return m && BigInt(committed!.offset) === BigInt(m[1]!) ? { from: BigInt(m[1]!), to: BigInt(m[2]!) } : null;
}

/** Whether a fetch of first..last starts at the intent and reaches its end, so it can be cut to exactly the announced range. */
export function fetchCoversIntent(intent: DeliveryIntent, first: string, last: string): boolean {
  return BigInt(first) === intent.from && BigInt(last) >= intent.to;
}
