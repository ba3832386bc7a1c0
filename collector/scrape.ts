// Scraping configured targets as Prometheus does: content negotiation
// (OpenMetrics preferred, text fallback), job/instance target labels with
// honor_labels=false conflict renaming, the up/scrape_* report series, and
// stale markers for series that vanish or whose target goes down. The sample
// assembly is a pure function; ScrapeLoop is the timer-and-fetch shell.
import type { Logger } from '../core/log.ts';
import type { Bus } from '../core/bus/bus.ts';
import type { Labels, SampleBatch } from '../core/bus/samples.ts';
import { staleMarker } from '../core/bus/samples.ts';
import type { ScrapeTargetConfig } from './config.ts';
import { parseDuration } from '../core/duration.ts';
import { formatFromContentType, parseExposition, type ExpositionSample } from './exposition.ts';
import { SeriesResolver } from './series-resolver.ts';
import type { CollectorMetrics } from './self-metrics.ts';

/** What Prometheus 2.x sends: OpenMetrics 1.0 first, then 0.0.1, then the text format. */
export const SCRAPE_ACCEPT =
  'application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2';

export interface ScrapeTarget {
  readonly job: string;
  readonly url: string;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  /** job, instance and the configured labels, as attached to every sample of the target. */
  readonly labels: Labels;
}

export function scrapeTarget(config: ScrapeTargetConfig, field = 'collector.scrape'): ScrapeTarget {
  const url = new URL(config.url);
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  const intervalMs = parseDuration(config.interval, `${field}.interval`);
  // Prometheus caps the timeout at the interval.
  const timeoutMs = Math.min(parseDuration(config.timeout, `${field}.timeout`), intervalMs);
  return { job: config.job, url: config.url, intervalMs, timeoutMs, labels: { job: config.job, instance: `${url.hostname}:${port}`, ...config.labels } };
}

/** A sample's labels with the target's attached; a scraped label that clashes becomes exported_<name> (honor_labels: false). */
export function withTargetLabels(scraped: Labels, target: Labels): Labels {
  const out: Record<string, string> = { ...scraped };
  for (const [name, value] of Object.entries(target)) {
    if (name in out) {
      let exported = `exported_${name}`;
      while (exported in out) exported = `exported_${exported}`;
      out[exported] = out[name]!;
    }
    if (value === '') delete out[name];
    else out[name] = value;
  }
  return out;
}

/** The result of fetching a target: the exposition text and its content type, or why it failed. */
export type ScrapeResponse = { readonly ok: true; readonly body: string; readonly contentType: string | null } | { readonly ok: false; readonly error: string };

export interface ScrapeState {
  /** Series written by the previous scrape (without explicit timestamps), which get a stale marker when they vanish. */
  readonly previous: ReadonlySet<bigint>;
}

export interface ScrapeAssembly {
  readonly batch: SampleBatch;
  readonly commit: () => void;
  readonly state: ScrapeState;
  readonly up: boolean;
  /** Why the scrape failed, when it did (fetch or parse error). */
  readonly error?: string;
  readonly samplesScraped: number;
}

/**
 * All samples of one scrape as one batch: the target's samples (at the
 * scrape timestamp unless the exposition gives one), the report series, and
 * stale markers for series of the previous scrape that are gone.
 */
export function assembleScrape(
  target: ScrapeTarget,
  response: ScrapeResponse,
  timestampMs: number,
  durationSeconds: number,
  state: ScrapeState,
  resolver: SeriesResolver,
  tenant: string,
): ScrapeAssembly {
  let samples: ExpositionSample[] = [];
  let error: string | undefined;
  if (response.ok) {
    try {
      samples = parseExposition(response.body, formatFromContentType(response.contentType)).samples;
    } catch (e) {
      error = `parsing the exposition: ${(e as Error).message}`;
    }
  } else {
    error = response.error;
  }
  const up = error === undefined;
  const builder = resolver.batch(tenant, samples.length + state.previous.size + 8);
  const current = new Set<bigint>();
  let added = 0;
  for (const s of samples) {
    const id = builder.add(withTargetLabels(s.labels, target.labels), s.timestampMs ?? timestampMs, s.value);
    if (s.timestampMs === undefined) {
      current.add(id);
      if (!state.previous.has(id)) added++;
    }
  }
  const stale = staleMarker();
  for (const id of state.previous) if (!current.has(id)) builder.addById(id, timestampMs, stale);
  const report = (name: string, value: number) => builder.add({ ...target.labels, __name__: name }, timestampMs, value);
  report('up', up ? 1 : 0);
  report('scrape_duration_seconds', durationSeconds);
  report('scrape_samples_scraped', samples.length);
  report('scrape_samples_post_metric_relabeling', samples.length);
  report('scrape_series_added', added);
  return {
    batch: builder.build(),
    commit: () => builder.commit(),
    state: { previous: current },
    up,
    ...(error !== undefined ? { error } : {}),
    samplesScraped: samples.length,
  };
}

/** Fetches a target once, with Prometheus' Accept header and a timeout. */
export async function fetchTarget(target: ScrapeTarget): Promise<ScrapeResponse> {
  try {
    const res = await fetch(target.url, {
      headers: {
        Accept: SCRAPE_ACCEPT,
        'User-Agent': 'Tidemark/0.1',
        'X-Prometheus-Scrape-Timeout-Seconds': String(target.timeoutMs / 1000),
      },
      signal: AbortSignal.timeout(target.timeoutMs),
      redirect: 'follow',
    });
    const body = await res.text();
    if (res.status !== 200) return { ok: false, error: `server returned HTTP status ${res.status} ${res.statusText}`.trim() };
    return { ok: true, body, contentType: res.headers.get('content-type') };
  } catch (e) {
    const err = e as Error & { cause?: Error };
    if (err.name === 'TimeoutError') return { ok: false, error: `context deadline exceeded (timeout ${target.timeoutMs}ms)` };
    return { ok: false, error: err.cause?.message ?? err.message };
  }
}

export interface ScrapeLoopDeps {
  readonly bus: Bus;
  readonly tenant: string;
  readonly log: Logger;
  readonly metrics?: CollectorMetrics;
  /** Shared between loops so that a series is defined once per process. */
  readonly resolver?: SeriesResolver;
  readonly fetchTarget?: (target: ScrapeTarget) => Promise<ScrapeResponse>;
  readonly now?: () => number;
}

type Health = 'unknown' | 'up' | 'down';

/** Scrapes one target every interval and publishes each scrape as one batch. */
export class ScrapeLoop {
  private state: ScrapeState = { previous: new Set() };
  private health: Health = 'unknown';
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;
  private publishFailing = false;
  private readonly resolver: SeriesResolver;

  constructor(
    readonly target: ScrapeTarget,
    private readonly deps: ScrapeLoopDeps,
  ) {
    this.resolver = deps.resolver ?? new SeriesResolver();
  }

  /** Starts scraping now and then every interval (skipping a tick while a scrape is still running). */
  start(): void {
    this.stopped = false;
    const tick = () => {
      if (this.stopped) return;
      if (!this.running) {
        this.running = this.scrapeOnce()
          .then(() => {
            if (this.publishFailing) this.deps.log.info({ job: this.target.job }, 'scrape results are accepted again');
            this.publishFailing = false;
          })
          .catch((e: unknown) => {
            // Once per failure streak (e.g. the store is down), not every interval.
            if (!this.publishFailing) this.deps.log.warn({ err: e, job: this.target.job }, 'scrape results could not be published');
            this.publishFailing = true;
          })
          .finally(() => (this.running = null));
      }
      this.timer = setTimeout(tick, this.target.intervalMs);
      this.timer.unref?.();
    };
    tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  /** One scrape: fetch, assemble, publish. Returns the batch published. */
  async scrapeOnce(): Promise<SampleBatch> {
    const now = this.deps.now ?? Date.now;
    const timestampMs = now();
    const started = performance.now();
    const response = await (this.deps.fetchTarget ?? fetchTarget)(this.target);
    const durationSeconds = (performance.now() - started) / 1000;
    const assembly = assembleScrape(this.target, response, timestampMs, durationSeconds, this.state, this.resolver, this.deps.tenant);
    this.noteHealth(assembly.up, assembly.error);
    this.deps.metrics?.scrapeDuration.observe({ job: this.target.job }, durationSeconds);
    try {
      await this.deps.bus.publish('metrics', assembly.batch);
    } catch (e) {
      // The previous state stays, so the next scrape still ends vanished series.
      this.deps.metrics?.requestsRejected.inc({ source: 'scrape', reason: 'unavailable' });
      throw e;
    }
    assembly.commit();
    this.state = assembly.state;
    this.deps.metrics?.samplesReceived.inc({ source: 'scrape' }, assembly.batch.length);
    return assembly.batch;
  }

  /** Logs only when a target changes between up and down, never on every failed scrape. */
  private noteHealth(up: boolean, error: string | undefined): void {
    const next: Health = up ? 'up' : 'down';
    const fields = { job: this.target.job, instance: this.target.labels['instance'], url: this.target.url };
    if (next === 'down' && this.health !== 'down') this.deps.log.warn({ ...fields, error }, 'scrape target is down');
    else if (next === 'up' && this.health === 'down') this.deps.log.info(fields, 'scrape target is up again');
    if (!up) this.deps.metrics?.requestsRejected.inc({ source: 'scrape', reason: 'target_down' });
    this.health = next;
  }

  get targetHealth(): Health {
    return this.health;
  }
}
