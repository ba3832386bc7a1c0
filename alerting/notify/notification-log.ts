// The notification log replicas share in the store: before sending, a
// replica inserts a claim row for the notification's slot (what is being
// sent, the same on every replica: notifier.ts notificationSlot) and reads
// the slot's claims back; the earliest claim (then the smallest replica id)
// sends. The guarantee, plainly: the insert is synchronous, so a replica
// claiming after another's claim is stored reads it and stands down; two
// replicas claiming at the same moment both read both rows and agree on the
// one winner. A duplicate gets through only when a replica's clock runs
// behind another's by more than the time between their claims (its later
// claim then sorts first after the other has already read itself as the
// winner). A replica that claims and dies before posting loses that one
// notification; the next change or repeat of the group is a new slot.
import type { Store } from '../../core/store.ts';
import { chTime } from '../schema.ts';

export async function claimNotification(store: Store, replica: string, tenant: string, receiver: string, groupKey: string, slot: string, now: number): Promise<boolean> {
  await store.insertRows('alert_notification_log', [{ tenant, receiver, group_key: groupKey, slot, replica, claimed_at: chTime(now) }]);
  const rows = await store.query<{ replica: string }>(
    `SELECT replica FROM ${store.table('alert_notification_log')}
      WHERE tenant = {tenant:String} AND receiver = {receiver:String} AND group_key = {groupKey:String} AND slot = {slot:String}
      ORDER BY claimed_at, replica LIMIT 1`,
    { tenant, receiver, groupKey, slot },
  );
  return rows[0]?.replica === replica;
}
