// What a running engine hands to every module it starts: the configuration,
// the store, the bus, the logger and the self-metrics registry.
import type { Registry } from 'prom-client';
import type { CoreConfig } from './config.ts';
import type { Store } from './store.ts';
import type { Bus } from './bus/bus.ts';
import type { Logger } from './log.ts';

/** `C` is what the module reads of the configuration: the core sections and its own (bin/ composes the whole). */
export interface AppContext<C extends CoreConfig = CoreConfig> {
  readonly config: C;
  readonly store: Store;
  readonly bus: Bus;
  readonly log: Logger;
  readonly registry: Registry;
  /** Work to run when the engine stops (timers, consumers, child clients). */
  onClose(fn: () => Promise<void> | void): void;
}
