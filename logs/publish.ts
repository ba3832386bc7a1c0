// Handing a request's log records (or a Faro request's samples) to the bus
// and answering only once they are safe: on the memory bus, stored (group
// commit); on Kafka, acknowledged by the broker. Outages and back-pressure
// answer 503 with Retry-After; a payload the store refused for good, 400.
import { HttpError } from '../core/http.ts';
import type { AppContext } from '../core/context.ts';
import { PayloadRejectedError, type Topic, type TopicPayloads } from '../core/bus/bus.ts';

const RETRY_AFTER_SECONDS = '5';
/** Longest a receiver waits for the store to confirm a request before answering 503. */
const STORE_WAIT_MS = 10_000;

function unavailable(code: string, message: string): HttpError {
  return new HttpError(503, code, message, undefined, { 'Retry-After': RETRY_AFTER_SECONDS });
}

/** Refuses before decoding when the bus cannot take the request now. */
export function checkBus(ctx: AppContext): void {
  if (!ctx.bus.ready()) throw unavailable('store_unavailable', 'the store is not accepting log lines; retry later');
  if (ctx.bus.saturated()) throw unavailable('overloaded', 'the ingest queue is full; retry later');
}

class StoreWaitTimeout extends Error {}

export async function publishSafely<T extends Topic>(ctx: AppContext, topic: T, payload: TopicPayloads[T]): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new StoreWaitTimeout()), STORE_WAIT_MS);
    });
    await Promise.race([ctx.bus.publish(topic, payload), timedOut]);
  } catch (e) {
    if (e instanceof StoreWaitTimeout) throw unavailable('store_unavailable', 'the store has not confirmed these lines in time; retry later');
    if (e instanceof PayloadRejectedError) throw new HttpError(400, 'rejected_by_store', e.reason);
    throw unavailable('store_unavailable', `not accepted: ${(e as Error).message}`);
  } finally {
    clearTimeout(timer);
  }
}
