// The audit trail of Tidemark's own changes (who, what, when, from where),
// written by the HTTP hook after each successful state-changing request and
// read back per tenant.
import type { Store } from '../store.ts';

export interface AuditEntry {
  readonly tenant: string;
  /** Unix milliseconds. */
  readonly ts: number;
  readonly principal: string;
  readonly role: string;
  readonly action: string;
  readonly method: string;
  readonly route: string;
  readonly resource: string;
  readonly remote: string;
  readonly status: number;
}

export interface AuditTrail {
  record(entry: AuditEntry): Promise<void>;
  list(tenant: string, options: { since?: number; limit: number }): Promise<AuditEntry[]>;
}

function chTime(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
}

export function storeAuditTrail(store: Store): AuditTrail {
  return {
    async record(e) {
      await store.insertRows('audit_log', [{ ...e, ts: chTime(e.ts) }]);
    },
    async list(tenant, { since = 0, limit }) {
      const rows = await store.query<AuditEntry>(
        `SELECT tenant, toUnixTimestamp64Milli(ts) AS ts, principal, role, action, method, route, resource, remote, status
           FROM ${store.table('audit_log')}
          WHERE tenant = {tenant:String} AND ts >= fromUnixTimestamp64Milli({since:Int64}, 'UTC')
          ORDER BY ts DESC LIMIT {limit:UInt32}`,
        { tenant, since, limit },
      );
      return rows.map((r) => ({ ...r, ts: Number(r.ts), status: Number(r.status) }));
    },
  };
}
