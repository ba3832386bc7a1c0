import { describe, expect, it } from 'vitest';
import { deliveryToken, fetchCoversIntent, intentMetadata, unfinishedIntent } from './delivery-intent.ts';

describe('delivery intents in commit metadata', () => {
  it('reads back the range it announced while the committed offset stands at its start', () => {
    const metadata = intentMetadata('10', '12');
    expect(metadata).toBe('tidemark-delivery:10-12');
    expect(unfinishedIntent({ partition: 0, offset: '10', metadata })).toEqual({ from: 10n, to: 12n });
  });

  it('sees no intent once the group committed past it, for foreign metadata, or for none', () => {
    expect(unfinishedIntent({ partition: 0, offset: '13', metadata: intentMetadata('10', '12') })).toBeNull();
    expect(unfinishedIntent({ partition: 0, offset: '10', metadata: 'someone-else:10-12' })).toBeNull();
    expect(unfinishedIntent({ partition: 0, offset: '10', metadata: null })).toBeNull();
    expect(unfinishedIntent(undefined)).toBeNull();
  });

  it('replays only a fetch that starts at the intent and reaches its end', () => {
    const intent = { from: 10n, to: 12n };
    expect(fetchCoversIntent(intent, '10', '12')).toBe(true);
    expect(fetchCoversIntent(intent, '10', '40')).toBe(true);
    expect(fetchCoversIntent(intent, '10', '11')).toBe(false);
    expect(fetchCoversIntent(intent, '11', '40')).toBe(false);
  });

  it('names a delivery by topic, partition and range, the same whoever hands it over', () => {
    expect(deliveryToken('tidemark.metrics', 3, '10', '12')).toBe('tidemark.metrics/3/10-12');
  });
});
