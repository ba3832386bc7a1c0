// One log line as the bus carries it, built the same way by every source.
import type { LogRecord } from '../core/bus/records.ts';

/** A log record of one entry: the stream's labels (with structured metadata merged in) at `tsNs`. */
export function logRecord(tenant: string, labels: Readonly<Record<string, string>>, tsNs: string, ms: number, line: string): LogRecord {
  return {
    tenant,
    timestamp: ms,
    timestampNs: tsNs,
    cluster: labels['cluster'] ?? '',
    namespace: labels['namespace'] ?? '',
    workload: labels['workload'] ?? '',
    pod: labels['pod'] ?? '',
    container: labels['container'] ?? '',
    stream: labels['stream'] ?? '',
    message: line,
    labels,
  };
}
