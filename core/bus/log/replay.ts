// What a restarted bus must hand over again, decided from the entries its
// log holds (pure). Per topic: the consumer's progress (the highest handled
// mark), the payloads after it in log order, and the delivery intents after
// it, each of which must be replayed as exactly the delivery it announced
// (same payloads, so same token) because its consumer may have stored it
// before the process died. Payloads after the last intent were never handed
// over and are delivered as new.
import type { Topic } from '../bus.ts';
import type { PositionedEntry } from './entries.ts';

/** The log range of one delivery: its first and last payload's positions. */
export interface DeliveryRange {
  from: number;
  to: number;
}

export interface PendingPayload {
  position: number;
  bytes: Buffer;
  /** The announced delivery this payload belongs to, when one was announced before the process died. */
  intent: DeliveryRange | null;
}

export interface TopicReplay {
  /** Every payload of the topic at or before this position is handled (-1: none known). */
  handledThrough: number;
  /** Payloads not yet handled, in log order. */
  pending: PendingPayload[];
}

export function replayPlan(entries: readonly PositionedEntry[]): Map<Topic, TopicReplay> {
  const handled = new Map<Topic, number>();
  for (const e of entries) if (e.kind === 'handled') handled.set(e.topic, Math.max(handled.get(e.topic) ?? -1, e.through));
  const plan = new Map<Topic, TopicReplay>();
  const intents = new Map<Topic, DeliveryRange[]>();
  for (const e of entries) {
    const through = handled.get(e.topic) ?? -1;
    let topic = plan.get(e.topic);
    if (!topic) plan.set(e.topic, (topic = { handledThrough: through, pending: [] }));
    if (e.kind === 'payload' && e.position > through) topic.pending.push({ position: e.position, bytes: e.bytes, intent: null });
    if (e.kind === 'intent' && e.to > through) {
      let list = intents.get(e.topic);
      if (!list) intents.set(e.topic, (list = []));
      list.push({ from: e.from, to: e.to });
    }
  }
  // An intent follows its payloads in the log, so each pending payload is matched to the intent whose range holds it.
  for (const [topic, list] of intents) {
    const pending = plan.get(topic)!.pending;
    let i = 0;
    for (const range of list) {
      while (i < pending.length && pending[i]!.position < range.from) i++;
      while (i < pending.length && pending[i]!.position <= range.to) pending[i++]!.intent = range;
    }
  }
  return plan;
}
