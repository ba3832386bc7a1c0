// Which store errors retrying can fix. The ingester retries those (the store
// is away, busy, or out of memory as a whole) and dead-letters the payload
// for the rest (the store refuses this data: too many partitions in one
// insert, a type or parse error, one query's memory limit), so one bad
// request never stalls the queue behind it.

/** A store error as @clickhouse/client reports it: `code` is ClickHouse's numeric error code as a string, `type` its name. */
interface CodedError {
  code?: unknown;
  type?: unknown;
  message?: unknown;
}

export type StoreErrorKind = 'retryable' | 'rejected';

/**
 * ClickHouse error codes that say the server or the cluster is in trouble,
 * not the data: timeouts, too many queries, network, read-only replicas,
 * Keeper, disk space, a missing table or database during a migration, and
 * the server-wide memory limit. Retried.
 */
const RETRYABLE_CODES = new Set([
  3, // UNEXPECTED_END_OF_FILE
  16, // NO_SUCH_COLUMN_IN_TABLE (schema changing under us)
  32, // ATTEMPT_TO_READ_AFTER_EOF
  60, // UNKNOWN_TABLE
  81, // UNKNOWN_DATABASE
  159, // TIMEOUT_EXCEEDED
  164, // READONLY
  202, // TOO_MANY_SIMULTANEOUS_QUERIES
  203, // NO_FREE_CONNECTION
  209, // SOCKET_TIMEOUT
  210, // NETWORK_ERROR
  225, // NO_ZOOKEEPER
  236, // ABORTED
  242, // TABLE_IS_READ_ONLY
  243, // NOT_ENOUGH_SPACE
  252, // TOO_MANY_PARTS (merges behind), unless it is the partitions-per-insert limit: see below
  285, // TOO_FEW_LIVE_REPLICAS
  319, // UNKNOWN_STATUS_OF_INSERT
  394, // QUERY_WAS_CANCELLED
  425, // SYSTEM_ERROR
  999, // KEEPER_EXCEPTION
  1000, // POCO_EXCEPTION
]);

const MEMORY_LIMIT_EXCEEDED = 241;

/**
 * Classifies a store error. Errors without a ClickHouse code (connection
 * refused or reset, timeouts, a closed client) are the store being away:
 * retryable. A ClickHouse error is retryable only when its code says the
 * server is in trouble; any other code is about this insert's data.
 */
export function storeErrorKind(err: unknown): StoreErrorKind {
  const e = (err ?? {}) as CodedError;
  const code = Number(typeof e.code === 'string' || typeof e.code === 'number' ? e.code : Number.NaN);
  if (!Number.isInteger(code) || code <= 0) return 'retryable';
  const message = typeof e.message === 'string' ? e.message : '';
  if (code === 252) return /partitions for single INSERT block/i.test(message) ? 'rejected' : 'retryable';
  // The server's total memory is a passing condition; one query's limit is this data's size.
  if (code === MEMORY_LIMIT_EXCEEDED) return /\(total\)/i.test(message) ? 'retryable' : 'rejected';
  return RETRYABLE_CODES.has(code) ? 'retryable' : 'rejected';
}

/** A short, stable name for an error's kind, for metric labels: ClickHouse's error name, or "unknown". */
export function storeErrorName(err: unknown): string {
  const t = (err as CodedError | null)?.type;
  return typeof t === 'string' && /^[A-Z0-9_]{1,64}$/.test(t) ? t : 'unknown';
}
