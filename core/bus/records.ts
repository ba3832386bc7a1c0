// Non-metric records that travel on the bus: probe results and log lines.
// Owned by core so that sources, bus and consumers share one shape.

export interface ProbeResult {
  readonly tenant: string;
  readonly cluster: string;
  /** Where the probe ran from (a probe location name). */
  readonly location: string;
  /** Unix time in milliseconds. */
  readonly timestamp: number;
  /** The URL probed, e.g. the API server's /readyz. */
  readonly target: string;
  readonly ok: boolean;
  readonly latencyMs: number;
  readonly error: string;
}

export interface LogRecord {
  readonly tenant: string;
  /** Unix time in milliseconds. */
  readonly timestamp: number;
  readonly cluster: string;
  readonly namespace: string;
  readonly workload: string;
  readonly pod: string;
  readonly container: string;
  /** stdout, stderr, audit, … */
  readonly stream: string;
  readonly message: string;
  /**
   * The stream's whole label set, when the source knows more than the fields
   * above (Loki push, audit events, Faro): stored as the row's labels as
   * they are. Absent: the labels are the non-empty fields above.
   */
  readonly labels?: Readonly<Record<string, string>>;
  /** Unix time in nanoseconds as a decimal string, when the source has them (Loki); `timestamp` is then its milliseconds. */
  readonly timestampNs?: string;
}
